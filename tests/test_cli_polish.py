"""The small things of the command line: --config that names no file, help texts, shell completion."""

from __future__ import annotations

import io
import re

import pytest

from chatcli.cli.app import cli
from chatcli.cli.main import run
from chatcli.config import load_config
from chatcli.config.presets import PRESETS
from chatcli.config.prices import price_for
from chatcli.ui.terminal import Terminal


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.delenv("CHATCLI_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def invoke(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), Terminal(out, err, stdin=io.StringIO(), environ={}))
    return code, out.getvalue(), err.getvalue()


# --- --config PATH must name a file ----------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["ask", "--config", "{missing}", "hi"],
    ["--config", "{missing}", "ask", "hi"],
    ["--config", "{missing}"],
    ["providers", "--config", "{missing}"],
    ["tools", "--config", "{missing}"],
    ["--config", "{missing}", "config", "show"],
    ["config", "get", "default_provider", "--config", "{missing}"],
    ["config", "set", "default_provider", "zhipu", "--config", "{missing}"],
    ["sessions", "list", "--config", "{missing}"],
    ["--config", "{missing}", "sessions", "list"],
])
def test_a_config_that_does_not_exist_is_a_usage_error(tmp_path, argv):
    missing = str(tmp_path / "nope.toml")
    code, out, err = invoke(*(a.replace("{missing}", missing) for a in argv))
    assert code == 2, err
    assert err == f"chat: --config {missing}: no such file (chat config init --config {missing} writes one)\n"
    assert not (tmp_path / "nope.toml").exists()


def test_config_path_and_init_may_name_a_new_file(tmp_path, capsys):
    target = tmp_path / "new.toml"
    assert invoke("config", "path", "--config", str(target))[0] == 0
    assert invoke("--config", str(target), "config", "path")[0] == 0
    assert capsys.readouterr().out == f"{target}\n{target}\n"
    assert invoke("config", "init", "--config", str(target))[0] == 0
    shown = capsys.readouterr().out
    assert f"presets: {', '.join(PRESETS)}" in shown
    text = target.read_text()
    for name in PRESETS:  # every preset has its commented table, and the list names them all
        assert f"# [providers.{name}]" in text
    assert f"# Built-in presets: {', '.join(PRESETS)}." in text
    assert invoke("--config", str(target), "config", "show")[0] == 0  # the starter file itself is valid


def test_prices_can_be_set_key_by_key(tmp_path, capsys):
    target = tmp_path / "c.toml"
    target.write_text("")
    assert invoke("config", "set", "prices.qwen-plus.input", "0.8", "--config", str(target))[0] == 0
    said = capsys.readouterr().out
    assert "prices.qwen-plus.output" in said  # what is still missing for a cost
    assert price_for(load_config(str(target)).prices, "qwen-plus") is None  # half a price is no price
    assert invoke("config", "set", "prices.qwen-plus.output", "2", "--config", str(target))[0] == 0
    assert "no cost" not in capsys.readouterr().out
    price = price_for(load_config(str(target)).prices, "qwen-plus")
    assert price is not None and (price.input, price.output) == (0.8, 2)


# --- help texts ---------------------------------------------------------------------------------

HELPS = [["--help"], ["ask", "--help"], ["config", "--help"], ["sessions", "--help"], ["completion", "--help"],
         *(["config", c, "--help"] for c in ("path", "show", "init", "get", "set")),
         *(["sessions", c, "--help"] for c in ("list", "show", "search", "export", "delete"))]


@pytest.mark.parametrize("argv", HELPS, ids=" ".join)
def test_help_shows_no_python_types_and_no_cut_summaries(argv, capsys):
    code, _, _ = invoke(*argv)
    shown = capsys.readouterr().out
    assert code == 0 and shown.startswith("Usage: chat")
    assert not re.search(r"<(str|int|float|bool|list|path)\b[^>]*>", shown), shown
    assert not re.search(r"\{[A-Z]+\}", shown), shown  # `{KEY}` for a required argument
    assert "x>=" not in shown and "[WORDS]" not in shown
    cut = [line for line in shown.splitlines()[1:] if line.endswith("...") and not line.strip().startswith("TEXT")]
    assert not cut, shown  # a summary cut short by click
    assert "chat config config" not in shown and "chat sessions sessions" not in shown


# --- shell completion ---------------------------------------------------------------------------

@pytest.mark.parametrize("shell, needle", [("bash", "complete -o nosort -F"), ("zsh", "#compdef chat"),
                                           ("fish", "complete --no-files --command chat")])
def test_completion_scripts(shell, needle, capsys):
    assert invoke("completion", shell)[0] == 0
    script = capsys.readouterr().out
    assert needle in script and "_CHAT_COMPLETE" in script


def complete(monkeypatch, capsys, words: str) -> list[str]:
    from chatcli.cli.completion import complete as answer

    monkeypatch.setenv("_CHAT_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
    assert answer(cli) == 0
    return [line.split(",", 1)[1] for line in capsys.readouterr().out.splitlines()]


def test_completion_offers_commands_options_providers_and_models(tmp_path, monkeypatch, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[providers.myvllm]\nkind = "openai"\nbase_url = "http://localhost:8000/v1"\n'
                      'model = "Qwen/Qwen2.5-7B-Instruct"\nmodels = ["Qwen/QwQ-32B"]\n')
    assert {"ask", "config", "sessions", "completion"} <= set(complete(monkeypatch, capsys, "chat "))
    assert {"--temperature", "--think"} <= set(complete(monkeypatch, capsys, "chat --t"))
    assert set(PRESETS) <= set(complete(monkeypatch, capsys, "chat -p "))
    assert complete(monkeypatch, capsys, f"chat --config {config} ask -p my") == ["myvllm"]
    assert complete(monkeypatch, capsys, f"chat --config {config} -p myvllm -m ") == \
        ["Qwen/Qwen2.5-7B-Instruct", "Qwen/QwQ-32B"]
    assert "glm-4-flash" in complete(monkeypatch, capsys, "chat ask -p zhipu --model ")


def test_install_completion_writes_the_script_once(tmp_path, capsys):
    assert invoke("--install-completion", "bash")[0] == 0
    assert invoke("--install-completion", "bash")[0] == 0
    assert "_CHAT_COMPLETE" in (tmp_path / ".bash_completions" / "chat.sh").read_text()
    assert (tmp_path / ".bashrc").read_text() == "source ~/.bash_completions/chat.sh\n"
    assert invoke("--install-completion", "fish")[0] == 0
    assert (tmp_path / ".config" / "fish" / "completions" / "chat.fish").exists()
    code, _, err = invoke("--install-completion", "tcsh")
    assert code == 2
