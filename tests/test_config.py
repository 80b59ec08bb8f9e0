"""Tests for chatcli.config and the `chat config` / `chat providers` commands."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chatcli.cli.config_cmd import config_app, print_providers, providers_command
from chatcli.config import editing, loading, model, presets
from chatcli.errors import AuthError, ChatError, ConfigError, ExitCode

KEY_VARS = ("DASHSCOPE_API_KEY", "OPENAI_API_KEY", "ZHIPUAI_API_KEY", "MY_KEY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CHATCLI_CONFIG", raising=False)
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        loading.load_config(str(path))
    message = str(info.value)
    assert "\n" not in message
    return message


# --- path and presets -------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG applies on Linux")
def test_default_path_honours_xdg(tmp_path: Path) -> None:
    assert loading.config_path() == tmp_path / "xdg" / "chatcli" / "config.toml"


def test_path_override_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATCLI_CONFIG", str(tmp_path / "env.toml"))
    assert loading.config_path() == tmp_path / "env.toml"
    assert loading.config_path(str(tmp_path / "arg.toml")) == tmp_path / "arg.toml"


def test_no_file_gives_presets(tmp_path: Path) -> None:
    cfg = loading.load_config(str(tmp_path / "missing.toml"))
    assert not cfg.exists
    assert cfg.default_provider == "qwen"
    assert list(cfg.providers) == ["qwen", "qwen-intl", "dashscope", "openai", "ollama", "zhipu"]
    qwen = cfg.provider()
    assert (qwen.kind, qwen.model, qwen.api_key_env) == ("openai", "qwen-plus", "DASHSCOPE_API_KEY")
    assert qwen.base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert "qwen-max" in qwen.models and qwen.timeout == 120.0
    assert cfg.provider("qwen-intl").base_url == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert cfg.provider("zhipu").kind == "zhipu"
    assert cfg.provider("zhipu").model == "glm-4-plus"
    assert cfg.provider("ollama").api_key_env == ""
    assert cfg.tools == model.ToolsConfig() and cfg.context == model.ContextConfig()
    assert cfg.tools.enabled and cfg.tools.max_rounds == 8


def test_presets_are_not_shared_between_loads(tmp_path: Path) -> None:
    cfg = loading.load_config(str(tmp_path / "missing.toml"))
    cfg.provider("qwen").models.append("mutated")
    assert "mutated" not in loading.load_config(str(tmp_path / "missing.toml")).provider("qwen").models


def test_preset_override_keeps_other_fields(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.qwen]\nbase_url = "http://proxy.local/v1"\n')
    cfg = loading.load_config(str(path))
    qwen = cfg.provider("qwen")
    assert cfg.exists
    assert qwen.base_url == "http://proxy.local/v1"
    assert qwen.api_key_env == "DASHSCOPE_API_KEY"
    assert qwen.model == "qwen-plus"


def test_custom_provider_and_other_tables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'default_provider = "vllm"\n'
        "[providers.vllm]\n"
        'kind = "openai"\nbase_url = "http://localhost:8000/v1"\nmodel = "m"\n'
        "timeout = 30\nextra_body = { top_k = 20 }\n"
        "[tools]\nmax_rounds = 3\n[tools.weather]\ntimeout = 4\n[context]\nmax_tokens = 3000\n",
    )
    cfg = loading.load_config(str(path))
    vllm = cfg.provider()
    assert vllm.name == "vllm" and vllm.timeout == 30.0 and isinstance(vllm.timeout, float)
    assert vllm.extra_body == {"top_k": 20}
    assert vllm.key_status() == "not needed"
    assert cfg.tools.max_rounds == 3 and cfg.tools.weather.timeout == 4 and cfg.context.max_tokens == 3000
    assert list(cfg.providers)[-1] == "vllm"


def test_new_provider_requires_kind_base_url_model(tmp_path: Path) -> None:
    message = load_error(tmp_path, '# x\n[providers.mine]\nkind = "openai"\n')
    assert message.startswith(f"{tmp_path / 'config.toml'}:2: ")
    assert "[providers.mine]" in message and "base_url" in message and "model" in message


def test_misspelt_preset_suggests_it(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[providers.qwne]\nmodel = "qwen-max"\n')
    assert message.endswith(
        ":1: [providers.qwne] needs kind, base_url and model (missing: kind, base_url) (did you mean 'qwen'?)"
    )


def test_starter_file_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    editing.init_config(path)
    cfg = loading.load_config(str(path))
    assert cfg.exists and cfg.default_provider == "qwen"
    for name in presets.PRESETS:
        assert f"# [providers.{name}]" in presets.STARTER_CONFIG


# --- errors -------------------------------------------------------------------------------


def test_unknown_key_in_provider_names_file_key_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, '# c\n\n[providers.qwen]\nmodel = "qwen-max"\n\n\nmodle = "x"\n')
    assert message == (
        f"{tmp_path / 'config.toml'}:7: unknown key 'modle' in [providers.qwen] (did you mean 'model'?)"
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'default_provider = "qwen"\ndefault_provder = "x"\n')
    assert message.endswith(":2: unknown key 'default_provder' (did you mean 'default_provider'?)")
    assert str(tmp_path / "config.toml") in message


def test_unknown_key_in_dotted_and_inline_forms(tmp_path: Path) -> None:
    assert ":2: unknown key 'colour'" in load_error(tmp_path, '#\nproviders.qwen.colour = "x"\n')
    message = load_error(tmp_path, '#\n#\nproviders = { qwen = { modle = "x" } }\n')
    assert ":3: unknown key 'modle' in [providers.qwen]" in message


def test_unknown_key_without_close_match(tmp_path: Path) -> None:
    message = load_error(tmp_path, "[providers.qwen]\nzzz = 1\n")
    assert message.endswith(":2: unknown key 'zzz' in [providers.qwen]")


def test_invalid_toml_reports_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'default_provider = "qwen"\n\nmodel = = 3\n')
    assert str(tmp_path / "config.toml") in message and "invalid TOML" in message
    assert "line 3" in message


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        loading.load_config(str(tmp_path / "dir.toml"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[providers.qwen]\nmodel = 3\n', ":2: providers.qwen.model must be a non-empty string"),
        ('[providers.qwen]\nmodels = ["a", 1]\n', ":2: providers.qwen.models must be a list of strings"),
        ('[providers.qwen]\nmodels = "a"\n', ":2: providers.qwen.models must be a list of strings"),
        ('[providers.qwen]\ntimeout = 0\n', ":2: providers.qwen.timeout must be a number > 0"),
        ('[providers.qwen]\ntimeout = true\n', ":2: providers.qwen.timeout must be a number > 0"),
        ('[providers.qwen]\nkind = "anthropic"\n', ":2: providers.qwen.kind must be one of: openai, zhipu"),
        ('[providers.qwen]\nextra_body = 1\n', ":2: providers.qwen.extra_body must be a table"),
        ("#\nproviders = 1\n", ":2: providers must be a table"),
        ("#\n[providers]\nqwen = 1\n", ":3: providers.qwen must be a table"),
        ("tools = 1\n", ":1: tools must be a table"),
        ('#\ndefault_provider = "nope"\n', ":2: default_provider 'nope' names no provider (known: qwen,"),
        ("default_provider = 1\n", ":1: default_provider must be a non-empty string"),
    ],
)
def test_type_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in load_error(tmp_path, text)


def test_unknown_provider_lists_known(tmp_path: Path) -> None:
    cfg = loading.load_config(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError) as info:
        cfg.provider("nope")
    assert str(info.value) == "unknown provider 'nope' (known: qwen, qwen-intl, dashscope, openai, ollama, zhipu)"
    assert info.value.exit_code == 2


# --- API keys -------------------------------------------------------------------------------


def provider(**kw) -> model.ProviderConfig:
    return model.ProviderConfig(name="p", kind="openai", base_url="http://x/v1", model="m", **kw)


def test_key_status(monkeypatch: pytest.MonkeyPatch) -> None:
    assert provider(api_key_env="MY_KEY").key_status() == "missing"
    monkeypatch.setenv("MY_KEY", "  ")
    assert provider(api_key_env="MY_KEY").key_status() == "missing"
    monkeypatch.setenv("MY_KEY", "sk-1")
    assert provider(api_key_env="MY_KEY").key_status() == "set"
    assert provider(api_key="sk-lit").key_status() == "set"
    assert provider(api_key_cmd="false", api_key_env="MY_KEY").key_status() == "command"
    assert provider().key_status() == "not needed"
    assert provider(api_key_env="").key_status() == "not needed"


def test_resolve_from_env_literal_and_cmd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", " sk-env\n")
    assert provider(api_key_env="MY_KEY").resolve_api_key() == "sk-env"
    assert provider(api_key_env="MY_KEY", api_key=" sk-lit ").resolve_api_key() == "sk-lit"
    assert provider(api_key_env="MY_KEY", api_key="x", api_key_cmd="printf sk-test").resolve_api_key() == "sk-test"
    assert provider().resolve_api_key() is None


def test_failing_key_cmd_hides_stdout() -> None:
    p = provider(api_key_cmd="echo sk-secret-out; echo 'no vault' >&2; echo more >&2; exit 7")
    with pytest.raises(ConfigError) as info:
        p.resolve_api_key()
    assert str(info.value) == "providers.p.api_key_cmd failed (exit 7): no vault"
    assert "sk-secret" not in str(info.value)


def test_key_cmd_with_empty_output_fails() -> None:
    with pytest.raises(ConfigError, match=r"api_key_cmd failed \(exit 0\)"):
        provider(api_key_cmd="true").resolve_api_key()


def test_key_cmd_gets_no_stdin() -> None:
    assert provider(api_key_cmd="cat; printf k").resolve_api_key() == "k"


def test_missing_key_is_auth_error(tmp_path: Path) -> None:
    qwen = loading.load_config(str(tmp_path / "missing.toml")).provider("qwen")
    with pytest.raises(AuthError) as info:
        qwen.resolve_api_key()
    err = info.value
    assert err.exit_code == ExitCode.AUTH == 3 and err.provider == "qwen"
    assert str(err) == "qwen: no API key: set DASHSCOPE_API_KEY or api_key_cmd in [providers.qwen]"


# --- writing --------------------------------------------------------------------------------


def test_set_value_creates_dir_and_file_0600(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "config.toml"
    editing.set_value(path, "providers.qwen.model", "qwen-max")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert loading.load_config(str(path)).provider("qwen").model == "qwen-max"
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp files left


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("providers.qwen.extra_body.enable_thinking", "true", True),
        ("providers.qwen.extra_body.top_k", "42", 42),
        ("providers.qwen.timeout", "1.5", 1.5),
        ("providers.qwen.models", '["a", "b"]', ["a", "b"]),
        ("providers.qwen.model", '"quoted"', "quoted"),
        ("providers.qwen.model", "qwen-max", "qwen-max"),
        ("providers.qwen.model", "true", "true"),  # string fields keep the text
        ("providers.qwen.api_key", "12345678901234", "12345678901234"),
        ("providers.qwen.extra_body.note", "1\nfoo = 2", "1\nfoo = 2"),
    ],
)
def test_set_value_parses_toml_literals(tmp_path: Path, key: str, value: str, expected: object) -> None:
    path = tmp_path / "config.toml"
    editing.set_value(path, key, value)
    assert editing.get_value(loading.load_config(str(path)), key) == expected


def test_set_value_new_provider_in_steps_is_refused_until_complete(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError, match=r"\[providers.myvllm\] needs kind, base_url and model"):
        editing.set_value(path, "providers.myvllm.base_url", "http://h/v1")
    assert not path.exists()


def test_set_value_refuses_invalid_and_leaves_file(tmp_path: Path) -> None:
    path = write(tmp_path, '# keep me\n[providers.qwen]\nmodel = "qwen-max"\n')
    before = path.read_bytes()
    for key, value in [
        ("providers.qwen.modle", "x"),
        ("providers.qwen.timeout", "-1"),
        ("default_provider", "nope"),
        ("providers.qwen.model.sub", "x"),
        ("bogus", "1"),
        ("", "1"),
    ]:
        with pytest.raises(ConfigError):
            editing.set_value(path, key, value)
    assert path.read_bytes() == before


def test_set_value_keeps_existing_values(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.qwen]\nmodel = "qwen-max"\n')
    editing.set_value(path, "default_provider", "zhipu")
    cfg = loading.load_config(str(path))
    assert cfg.default_provider == "zhipu" and cfg.provider("qwen").model == "qwen-max"


def test_set_value_through_symlink_keeps_link(tmp_path: Path) -> None:
    real = write(tmp_path, "")
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    editing.set_value(link, "default_provider", "openai")
    assert link.is_symlink() and "openai" in real.read_text()


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    path = write(tmp_path, "# mine\n")
    with pytest.raises(ConfigError, match="already exists"):
        editing.init_config(path)
    assert path.read_text() == "# mine\n"
    editing.init_config(path, force=True)
    assert path.read_text() == presets.STARTER_CONFIG
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- editing keeps comments and layout ------------------------------------------------------


def edited(tmp_path: Path, before: str, key: str, value: str) -> str:
    path = write(tmp_path, before)
    editing.set_value(path, key, value)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text(encoding="utf-8")


def test_set_on_starter_file_keeps_every_comment(tmp_path: Path) -> None:
    path = str(tmp_path / "config.toml")
    assert invoke("config", "init", "--config", path)[0] == 0
    assert invoke("config", "set", "providers.qwen.model", "qwen-max", "--config", path)[0] == 0
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith(presets.STARTER_CONFIG)  # every comment and blank line, in place
    assert text[len(presets.STARTER_CONFIG):] == '\n[providers.qwen]\nmodel = "qwen-max"\n'
    assert invoke("config", "set", "default_provider", "zhipu", "--config", path)[0] == 0
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    comments = [line for line in presets.STARTER_CONFIG.splitlines() if line.startswith("#")]
    assert [line for line in lines if line.startswith("#")] == comments
    assert 'default_provider = "zhipu"' in lines and 'default_provider = "qwen"' not in lines
    cfg = loading.load_config(path)
    assert cfg.default_provider == "zhipu" and cfg.provider("qwen").model == "qwen-max"


def test_set_changes_only_that_value(tmp_path: Path) -> None:
    before = (
        "# mine\n\n"
        'default_provider = "qwen"  # the usual\n'
        "show_reasoning = true # shown\n\n"
        "[providers.qwen]\n"
        "# pick one\n"
        'model = "qwen-plus"   # cheap\n'
        "timeout = 60\n"
    )
    after = edited(tmp_path, before, "providers.qwen.model", "qwen-max")
    assert after == before.replace('"qwen-plus"', '"qwen-max"')
    assert edited(tmp_path, after, "providers.qwen.timeout", "90") == after.replace("= 60", "= 90")


def test_set_new_top_level_key_goes_above_the_tables(tmp_path: Path) -> None:
    before = '# top\n[providers.qwen]\nmodel = "qwen-plus"   # cheap\n'
    after = edited(tmp_path, before, "show_reasoning", "false")
    assert after == '# top\nshow_reasoning = false\n\n[providers.qwen]\nmodel = "qwen-plus"   # cheap\n'
    assert loading.load_config(str(tmp_path / "config.toml")).show_reasoning is False


def test_set_in_nested_table_keeps_its_comments(tmp_path: Path) -> None:
    before = (
        "[providers.qwen]  # mine\n"
        'model = "qwen-plus"\n\n'
        "# thinking off\n"
        "[providers.qwen.extra_body]\n"
        "enable_thinking = false  # faster\n\n"
        "[tools]\n"
        "max_rounds = 3\n"
    )
    after = edited(tmp_path, before, "providers.qwen.extra_body.top_k", "40")
    assert after == before.replace("# faster\n", "# faster\ntop_k = 40\n")


def test_set_in_inline_and_dotted_forms(tmp_path: Path) -> None:
    before = "[providers.qwen]\nextra_body = { enable_thinking = false }  # off\n"
    after = edited(tmp_path, before, "providers.qwen.extra_body.enable_thinking", "true")
    assert after == before.replace("false", "true")
    before = 'providers.qwen.model = "x"  # dotted\n'
    assert edited(tmp_path, before, "providers.qwen.timeout", "30") == before + "providers.qwen.timeout = 30\n"


def test_set_new_provider_table_leaves_the_rest(tmp_path: Path) -> None:
    before = '# keys\n[providers.qwen]\nmodel = "qwen-plus"  # cheap\n\n[tools]\nenabled = true  # yes\n'
    after = edited(tmp_path, before, "providers.openai.model", "gpt-4o")
    assert after.startswith('# keys\n[providers.qwen]\nmodel = "qwen-plus"  # cheap\n')
    assert "[tools]\nenabled = true  # yes\n" in after and after.count("#") == 3
    assert loading.load_config(str(tmp_path / "config.toml")).provider("openai").model == "gpt-4o"
    before = "[providers.qwen]\nmodel = \"a\"\n\n[tools]\nenabled = true\n\n[providers.openai]\nmodel = \"b\"  # o\n"
    after = edited(tmp_path, before, "providers.openai.model", "gpt-4o")
    assert after == before.replace('"b"', '"gpt-4o"')  # out-of-order tables stay where they are


# --- reading back -----------------------------------------------------------------------------


def test_get_value(tmp_path: Path) -> None:
    cfg = loading.load_config(str(tmp_path / "missing.toml"))
    assert editing.get_value(cfg, "default_provider") == "qwen"
    assert editing.get_value(cfg, "providers.zhipu.base_url") == "https://open.bigmodel.cn/api/paas/v4"
    assert editing.get_value(cfg, "providers.qwen.timeout") == 120.0
    assert editing.get_value(cfg, "providers.qwen.api_key_cmd") is None
    assert editing.get_value(cfg, "providers.qwen")["model"] == "qwen-plus"
    for bad in ("nope", "providers.nope.model", "providers.qwen.model.x", "providers.qwen.extra_body.x"):
        with pytest.raises(ConfigError, match="unknown key"):
            editing.get_value(cfg, bad)


def test_effective_dict_masks_secrets(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[providers.qwen]\n"
        'api_key = "sk-abcdefghijklmnop"\n'
        'api_key_cmd = "pass show qwen"\n'
        'extra_body = { access_token = "short", max_tokens = 100,'
        ' headers = { Authorization = "Bearer 0123456789xyz" } }\n',
    )
    cfg = loading.load_config(str(path))
    masked = editing.effective_dict(cfg)["providers"]["qwen"]
    assert masked["api_key"] == "****mnop"
    assert masked["api_key_env"] == "DASHSCOPE_API_KEY"
    assert masked["api_key_cmd"] == "pass show qwen"
    assert masked["extra_body"] == {"access_token": "****", "max_tokens": 100, "headers": {"Authorization": "****9xyz"}}
    assert editing.effective_dict(cfg, mask=False)["providers"]["qwen"]["api_key"] == "sk-abcdefghijklmnop"
    assert "extra_body" not in editing.effective_dict(cfg)["providers"]["zhipu"]  # empty tables and None dropped
    assert "api_key" not in editing.effective_dict(cfg)["providers"]["zhipu"]


# --- commands ---------------------------------------------------------------------------------


def make_app() -> typer.Typer:
    """A stand-in for the main app: sub-app plus the one error boundary."""
    app = typer.Typer()

    @app.callback()
    def main(config: str | None = typer.Option(None, "--config")) -> None:
        pass

    app.add_typer(config_app, name="config")
    app.command("providers")(providers_command)
    return app


def invoke(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(make_app(), list(args))
    if isinstance(result.exception, ChatError):
        return int(result.exception.exit_code), result.stdout, f"chat: {result.exception}"
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cmd_path_honours_env_and_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATCLI_CONFIG", str(tmp_path / "env.toml"))
    assert invoke("config", "path") == (0, f"{tmp_path / 'env.toml'}\n", "")
    assert invoke("config", "path", "--config", str(tmp_path / "o.toml"))[1] == f"{tmp_path / 'o.toml'}\n"
    assert invoke("--config", str(tmp_path / "root.toml"), "config", "path")[1] == f"{tmp_path / 'root.toml'}\n"


def test_cmd_init_set_get_show(tmp_path: Path) -> None:
    path = str(tmp_path / "c" / "config.toml")
    code, out, _ = invoke("config", "init", "--config", path)
    assert code == 0 and out.startswith(f"wrote {path}\npresets: qwen, ")
    code, _, err = invoke("config", "init", "--config", path)
    assert code == 2 and "already exists" in err
    assert invoke("config", "set", "providers.qwen.model", "qwen-max", "--config", path)[1] == (
        "set providers.qwen.model = qwen-max\n"
    )
    out = invoke("config", "set", "providers.qwen.api_key", "sk-abcdefghijklmnop", "--config", path)[1]
    assert out == "set providers.qwen.api_key = ****mnop\n"
    assert invoke("config", "get", "providers.qwen.model", "--config", path)[1] == "qwen-max\n"
    assert invoke("config", "get", "providers.qwen.timeout", "--config", path)[1] == "120.0\n"
    assert invoke("config", "get", "providers.ollama.models", "--config", path)[1] == "[]\n"
    assert invoke("config", "get", "providers.qwen.api_key_cmd", "--config", path)[1] == ""
    code, out, _ = invoke("config", "show", "--config", path)
    assert code == 0 and "sk-abcdefghijklmnop" not in out and "****mnop" in out
    assert loading.toml_module().loads(out)["providers"]["qwen"]["model"] == "qwen-max"


def test_cmd_errors_go_through_boundary(tmp_path: Path) -> None:
    path = write(tmp_path, "[providers.qwen]\nmodle = 1\n")
    code, out, err = invoke("config", "show", "--config", str(path))
    assert code == 2 and out == ""
    assert err == f"chat: {path}:2: unknown key 'modle' in [providers.qwen] (did you mean 'model'?)"
    code, _, err = invoke("config", "get", "nope", "--config", str(write(tmp_path, "")))
    assert code == 2 and err == "chat: unknown key 'nope'"


def test_providers_plain_when_not_a_tty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-x")
    path = write(tmp_path, '[providers.openai]\napi_key_cmd = "pass openai"\n')
    code, out, _ = invoke("providers", "--config", str(path))
    lines = out.splitlines()
    assert code == 0 and "\x1b" not in out
    assert lines[0] == "name\tkind\tbase_url\tmodel\tkey\tdefault"
    assert lines[1] == "qwen\topenai\thttps://dashscope.aliyuncs.com/compatible-mode/v1\tqwen-plus\tset\t*"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows["openai"][4] == "command" and rows["zhipu"][4] == "missing" and rows["ollama"][4] == "not needed"
    assert rows["zhipu"][5] == ""


def test_providers_rich_table_on_a_terminal(tmp_path: Path) -> None:
    out = io.StringIO()
    print_providers(loading.load_config(str(tmp_path / "missing.toml")), out, tty=True)
    text = out.getvalue()
    assert "qwen *" in text and "base URL" in text and "not needed" in text and "\t" not in text


# --- start-up weight --------------------------------------------------------------------------


def test_import_stays_light() -> None:
    code = (
        "import sys; heavy = {'rich', 'tomli_w', 'tomlkit', 'tomllib', 'tomli', 'subprocess', 'platformdirs', 'typer'};"
        "import chatcli.config; print(sorted(heavy & set(sys.modules)));"
        "import chatcli.cli.config_cmd; print(sorted(heavy & set(sys.modules) - {'typer', 'subprocess'}))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.splitlines() == ["[]", "[]"]


@pytest.mark.parametrize("text, needle", [
    ("[tools]\nmax_rounds = 0\n", ":2: tools.max_rounds must be a whole number > 0"),
    ("[tools]\nenabled = \"yes\"\n", ":2: tools.enabled must be true or false"),
    ("[tools.weather]\nforecast = \"x\"\n", ":2: unknown key 'forecast' in [tools.weather]"),
    ("[tools.weather]\ntimeout = -1\n", ":2: tools.weather.timeout must be a number > 0"),
    ("[context]\nmax_tokens = 0\n", ":2: context.max_tokens must be a whole number > 0"),
    ("[context]\nmax = 3\n", ":2: unknown key 'max' in [context]"),
])
def test_tools_table_is_checked(tmp_path: Path, text: str, needle: str) -> None:
    assert needle in load_error(tmp_path, text)


def test_proxy_passwords_are_never_shown(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.qwen]\nproxy = "http://bob:s3cret@proxy.example:8080"\n')
    for argv in (["config", "show"], ["config", "get", "providers.qwen.proxy"], ["config", "get", "providers.qwen"]):
        code, out, _ = invoke(*argv, "--config", str(path))
        assert code == 0 and "s3cret" not in out and "***@proxy.example:8080" in out, argv
