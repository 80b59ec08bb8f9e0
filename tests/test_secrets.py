"""Secrets: unusable keys refused before sending, keys redacted from every output, config values sanitised."""

from __future__ import annotations

import io
import json
import sqlite3
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import tests.fakeserver as fs
from chatcli.config import loading, model, secrets
from chatcli.errors import AuthError
from chatcli.jsontext import json_text
from chatcli.providers.errmap import classify
from chatcli.repl import commands
from chatcli.ui.sanitize import visible
from tests.conftest import DASHSCOPE_KEY, ZHIPU_KEY
from tests.fake_dashscope import NativeService

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"qwen": DASHSCOPE_KEY, "zhipu": ZHIPU_KEY, "dashscope": DASHSCOPE_KEY}
RAW_CONTROLS = ("\x1b", "\x07", "\x85", "\x9b")


@pytest.fixture(autouse=True)
def registry():
    secrets.forget_all()
    yield
    secrets.forget_all()


def add_to_table(chat, table: str, lines: str) -> None:
    """Put lines at the top of an existing [table] of the test config."""
    text = chat.config.read_text()
    assert f"[{table}]\n" in text
    chat.config.write_text(text.replace(f"[{table}]\n", f"[{table}]\n{lines}\n", 1))


def database(chat) -> Path:
    return chat.home / ".local" / "share" / "chatcli" / "chat.db"


def assert_one_line(proc, code: int, line: str) -> None:
    assert (proc.returncode, proc.stderr) == (code, f"chat: {line}\n"), proc.stderr


# --- keys that cannot be sent ---------------------------------------------------------------------

@pytest.mark.parametrize("value, problem", [
    (DASHSCOPE_KEY + "\nsecond-line", "a line break (only its first line was meant?)"),
    (DASHSCOPE_KEY + "\r\nx", "a line break (only its first line was meant?)"),
    (DASHSCOPE_KEY[:8] + "\x1b[0m" + DASHSCOPE_KEY[8:], "a control character"),
    (DASHSCOPE_KEY[:8] + "\t" + DASHSCOPE_KEY[8:], "a control character"),
    (DASHSCOPE_KEY[:8] + "\u200b" + DASHSCOPE_KEY[8:], "a non-ASCII character (U+200B)"),
])
def test_env_key_with_control_characters_is_refused_before_sending(chat, server, value, problem):
    chat.env["DASHSCOPE_API_KEY"] = value
    proc = chat.run("ask", "hi")
    assert_one_line(proc, 3, f"qwen: DASHSCOPE_API_KEY contains {problem}")
    assert server.requests == []
    assert DASHSCOPE_KEY not in proc.stdout + proc.stderr and DASHSCOPE_KEY[8:] not in proc.stderr


def test_multi_line_key_cmd_output_is_refused_naming_the_command(chat, server, tmp_path):
    entry = tmp_path / "pass-entry"
    entry.write_text("sk-from-the-vault-0123456789\nlogin: me@example.com\nurl: dashscope\n")
    add_to_table(chat, "providers.qwen", f"api_key_cmd = \"cat '{entry}'\"")
    proc = chat.run("ask", "--json", "hi")
    line = "qwen: the output of providers.qwen.api_key_cmd contains a line break (only its first line was meant?)"
    assert_one_line(proc, 3, line)
    assert server.requests == [] and "sk-from-the-vault" not in proc.stdout + proc.stderr


def test_key_cmd_trailing_newline_is_stripped(chat, server, tmp_path):
    entry = tmp_path / "pass-entry"
    entry.write_text("sk-from-the-vault-0123456789\n")
    add_to_table(chat, "providers.qwen", f"api_key_cmd = \"cat '{entry}'\"")
    server.queue(fs.dashscope_text(["ok"]))
    proc = chat.run("ask", "hi")
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok"), proc.stderr
    assert server.requests[0].headers["authorization"] == "Bearer sk-from-the-vault-0123456789"


def test_literal_key_with_a_control_character_names_the_config_key() -> None:
    p = model.ProviderConfig(name="p", kind="openai", base_url="http://x/v1", model="m",
                             api_key="sk-literal\x07-0123456789")
    with pytest.raises(AuthError) as info:
        p.resolve_api_key()
    assert str(info.value) == "p: providers.p.api_key contains a control character"
    assert info.value.exit_code == 3 and not info.value.retryable


def test_resolved_keys_are_remembered() -> None:
    p = model.ProviderConfig(name="p", kind="openai", base_url="http://x/v1", model="m",
                             api_key_cmd="printf 'sk-printed-0123456789\\n'")
    assert p.resolve_api_key() == "sk-printed-0123456789"
    assert secrets.redact("key sk-printed-0123456789 here") == "key **** here"


# --- redaction of server error bodies --------------------------------------------------------------

def echoing_body(key: str) -> dict:
    """An error object that carries the key in every field, nested too."""
    return {"error": {"code": f"bad_{key}", "type": key, "param": {"api_key": key},
                      "message": {"detail": f"Incorrect API key provided: {key}", "keys": [key]}}}


def assert_never_leaked(chat, proc, key: str) -> None:
    assert key not in proc.stdout and key not in proc.stderr
    assert "Traceback" not in proc.stderr
    db = database(chat)
    assert not db.exists() or key.encode() not in db.read_bytes()
    crash = chat.home / ".local" / "state" / "chatcli" / "crash"
    assert not crash.exists() or all(key not in p.read_text() for p in crash.iterdir())


@pytest.mark.parametrize("provider", ["qwen", "zhipu"])
@pytest.mark.parametrize("status", [400, 401, 403])
def test_error_body_echoing_the_key_is_redacted(chat, server, provider, status):
    key = KEYS[provider]
    server.queue(fs.error(status, echoing_body(key)))
    proc = chat.run("ask", "-p", provider, "--json", "hi")
    assert proc.returncode in (1, 3) and proc.stderr.count("\n") == 1 and "****" in proc.stderr
    assert_never_leaked(chat, proc, key)
    error = json.loads(proc.stdout)["error"]
    assert "****" in error["message"] and "Incorrect API key provided: ****" in error["message"]


def test_native_dashscope_error_echoing_the_key_is_redacted(chat, server):
    with chat.config.open("a") as f:
        f.write(f'\n[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    native = NativeService(server)
    native.queue(fs.error(400, {"code": DASHSCOPE_KEY, "message": f"bad key {DASHSCOPE_KEY}",
                                "request_id": DASHSCOPE_KEY}))
    proc = chat.run("ask", "-p", "dashscope", "--json", "hi")
    assert proc.returncode == 1 and "bad key ****" in proc.stderr
    assert_never_leaked(chat, proc, DASHSCOPE_KEY)


def test_midstream_error_echoing_the_key_is_redacted(chat, server):
    body = {"error": {"message": f"stream broke for {DASHSCOPE_KEY}", "code": DASHSCOPE_KEY}}
    server.queue(fs.midstream_error(fs.dashscope_text(["partial ", "answer"]), after=2, error_body=body))
    proc = chat.run("ask", "--json", "hi")
    assert proc.returncode != 0 and "****" in proc.stderr
    assert_never_leaked(chat, proc, DASHSCOPE_KEY)


def test_classify_redacts_every_field() -> None:
    secrets.remember("zk-other-known-key-987654")
    err = classify("qwen", 400, {"code": "sk-the-request-key-1234", "type": "x", "param": "p",
                                 "message": {"nested": ["zk-other-known-key-987654", "sk-the-request-key-1234"]}},
                   secret="sk-the-request-key-1234")
    assert "sk-the-request-key" not in err.message and "zk-other" not in err.message
    assert err.code == "****" and err.message.count("****") == 3


# --- JSON output -------------------------------------------------------------------------------------

def test_json_text_escapes_c1_controls_and_hides_secrets() -> None:
    secrets.remember("sk-json-secret-000000")
    data = {"text": "a\x00b\x1b[31mc\x7fd\x85e\x9bf\u2028g 中文", "sk-json-secret-000000": 1}
    text = json_text(data)
    assert not any(c in text for c in ("\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u2028"))
    assert "中文" in text and "sk-json" not in text
    assert json.loads(text) == {"text": data["text"], "****": 1}


def test_ask_json_and_export_escape_c1_controls(chat, server):
    answer = "a\x85b\x9b31mc\x1b]0;title\x07d"
    server.queue(fs.dashscope_text([answer]))
    proc = chat.run("ask", "--json", "hi \x9b31m there")
    assert proc.returncode == 0, proc.stderr
    assert not any(c in proc.stdout for c in RAW_CONTROLS)
    assert json.loads(proc.stdout)["content"] == answer
    proc = chat.run("sessions", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert not any(c in proc.stdout for c in RAW_CONTROLS) and json.loads(proc.stdout)
    with sqlite3.connect(database(chat)) as db:
        (cid,), = db.execute("SELECT id FROM conversations").fetchall()
    proc = chat.run("sessions", "export", cid, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert not any(c in proc.stdout for c in RAW_CONTROLS)
    assert json.loads(proc.stdout)["messages"][-1]["content"] == answer


# --- chat config get -----------------------------------------------------------------------------------

LOCAL_SECRETS = ('api_key = "sk-local-abcdefghijklmnop"\n'
                 'extra_body = { keep = "x", headers = { Authorization = "Bearer 0123456789xyz" } }')


def test_config_get_masks_secrets(chat):
    add_to_table(chat, "providers.local", LOCAL_SECRETS)
    proc = chat.run("config", "get", "providers.local.api_key")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "****mnop\n", "")
    proc = chat.run("config", "get", "providers.local.extra_body.headers.Authorization")
    assert proc.stdout == "****9xyz\n"
    proc = chat.run("config", "get", "providers.local.api_key_cmd")
    assert (proc.returncode, proc.stdout) == (0, "")


def test_config_get_table_prints_toml(chat):
    add_to_table(chat, "providers.local", LOCAL_SECRETS)
    proc = chat.run("config", "get", "providers.local")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    table = tomllib.loads(proc.stdout)
    assert table["model"] == "llama-test" and table["kind"] == "openai"
    assert table["api_key"] == "****mnop" and "api_key_cmd" not in table
    assert table["extra_body"] == {"keep": "x", "headers": {"Authorization": "****9xyz"}}
    assert "sk-local" not in proc.stdout
    weather = tomllib.loads(chat.run("config", "get", "tools").stdout)["weather"]
    assert weather["timeout"] == 2
    assert chat.run("config", "get", "context").stdout == ""  # nothing set in it


# --- config values printed ----------------------------------------------------------------------------

EVIL = ('\n[providers."ev\\u001b[2Jil"]\nkind = "openai"\nbase_url = "http://x\\u009b31m/v1"\n'
        'model = "m\\u001b]0;pwned\\u0007"\napi_key_env = ""\n')


def test_providers_and_config_show_no_escape_sequences(chat):
    with chat.config.open("a") as f:
        f.write(EVIL)
    for args in (["providers"], ["config", "show"], ["config", "get", "providers"]):
        proc = chat.run(*args)
        assert proc.returncode == 0, proc.stderr
        assert not any(c in proc.stdout for c in RAW_CONTROLS), args
    listing = chat.run("providers").stdout
    assert "ev\\x1b[2Jil\topenai\thttp://x\\x9b31m/v1\tm\\x1b]0;pwned\\x07\t" in listing
    shown = tomllib.loads(chat.run("config", "show").stdout)["providers"]["ev\x1b[2Jil"]
    assert shown["model"] == "m\x1b]0;pwned\x07"  # escaped in TOML, the value itself kept
    proc = chat.run("config", "get", 'providers."ev\x1b[2Jil".model')
    assert proc.stdout == "m\\x1b]0;pwned\\x07\n"


def test_providers_rich_table_no_escape_sequences(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(EVIL)
    from chatcli.cli.config_cmd import print_providers

    out = io.StringIO()
    print_providers(loading.load_config(str(path)), out, tty=True)
    assert not any(c in out.getvalue() for c in RAW_CONTROLS)
    assert "pwned" in out.getvalue()


def test_repl_provider_and_model_show_config_values_escaped():
    said: list[str] = []
    evil = "ev\x1b[2Jil"
    session = SimpleNamespace(provider_name=evil, model="m\x9b31m", cfg=SimpleNamespace(providers={evil: None}),
                              switch_model=lambda name: None)
    repl = SimpleNamespace(session=session, say=lambda text, dim=True: said.append(text))
    commands.find("/provider").handler(repl, "")
    commands.find("/model").handler(repl, "")
    commands.find("/model").handler(repl, "x\x1b[31m")
    assert said == ["provider: ev\\x1b[2Jil (ev\\x1b[2Jil)", "model: m\\x9b31m", "model x\\x1b[31m"]


def test_visible_escapes_controls_and_invisible_characters():
    assert visible("a\x1b[1mb\tc\u202ed\u200be\ufefff é中") == "a\\x1b[1mb\\x09c\\u202ed\\u200be\\ufefff é中"
