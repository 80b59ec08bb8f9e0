"""Tests for the `chat sessions ...` commands."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from chatcli.cli.sessions_cmd import print_conversations, print_hits, sessions_app
from chatcli.core.messages import Message, Usage
from chatcli.errors import ChatError
from chatcli.store.store import Store


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.delenv("CHATCLI_CONFIG", raising=False)


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "history/chat.db"\n', encoding="utf-8")
    return str(path)


@pytest.fixture
def ids(tmp_path: Path, config: str) -> list[str]:
    """Three saved conversations, oldest first."""
    with Store.open(tmp_path / "history" / "chat.db", pytest.fail) as store:
        out = []
        for question, answer in [("What is the weather in Beijing?", "Cold, 3 °C."),
                                 ("北京今天天气怎么样？", "晴，三度。"),
                                 ("Evil \x1b]0;pwned\x07title [bold]x[/bold]", "answer \x1b[31mred\x1b[0m")]:
            cid = store.new_conversation("qwen", "qwen-plus", None)
            store.add_message(cid, Message("user", question))
            store.add_message(cid, Message("assistant", answer), model="qwen-plus", usage=Usage(5, 6, 11))
            out.append(cid)
        return out


def make_app() -> typer.Typer:
    """A stand-in for the main app: the sub-app under a callback taking --config."""
    app = typer.Typer()

    @app.callback()
    def main(config: str | None = typer.Option(None, "--config")) -> None:
        pass

    app.add_typer(sessions_app, name="sessions")
    return app


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(make_app(), ["sessions", *args], input=input)
    if isinstance(result.exception, ChatError):
        return int(result.exception.exit_code), result.stdout, f"chat: {result.exception}"
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_list_plain(config: str, ids: list[str]) -> None:
    code, out, err = invoke("list", "--config", config)
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert lines[0] == "id\tupdated\tmessages\tmodel\trole\ttitle"
    assert [line.split("\t")[0] for line in lines[1:]] == ids[::-1]
    evil = lines[1].split("\t")
    assert evil[2:5] == ["2", "qwen-plus", ""] and evil[5] == "Evil title [bold]x[/bold]"  # controls stripped
    assert lines[2].split("\t")[5] == "北京今天天气怎么样？"
    assert "\x1b" not in out and "\x07" not in out
    assert invoke("list", "--limit", "1", "--config", config)[1].splitlines()[1:] == [lines[1]]


def test_list_json_and_inherited_config(config: str, ids: list[str]) -> None:
    result = CliRunner().invoke(make_app(), ["--config", config, "sessions", "list", "--json", "-n", "2"])
    data = json.loads(result.stdout)
    assert [d["id"] for d in data] == ids[:0:-1]
    assert data[1] == {**data[1], "title": "北京今天天气怎么样？", "message_count": 2, "provider": "qwen",
                       "model": "qwen-plus", "system": None}


def test_list_empty_store_uses_xdg_data_dir(tmp_path: Path) -> None:
    code, out, _ = invoke("list")
    assert code == 0 and out == "id\tupdated\tmessages\tmodel\trole\ttitle\n"
    if sys.platform.startswith("linux"):
        assert (tmp_path / "xdg-data" / "chatcli" / "chat.db").exists()


def test_show_prefix_and_errors(config: str, ids: list[str]) -> None:
    code, out, _ = invoke("show", ids[0][:6], "--config", config)
    assert code == 0 and out.startswith("# What is the weather in Beijing?\n")
    assert "## Assistant · qwen-plus · " in out and "Cold, 3 °C." in out
    code, out, _ = invoke("show", ids[2], "--config", config)
    assert "\x1b" not in out and "answer [31mred" not in out and "answer red" in out
    code, _, err = invoke("show", "zzzzzzzz", "--config", config)
    assert code == 2 and err == "chat: no conversation 'zzzzzzzz'"


def test_ambiguous_prefix(config: str, tmp_path: Path) -> None:
    import sqlite3

    with Store.open(tmp_path / "history" / "chat.db", pytest.fail):
        pass
    db = sqlite3.connect(tmp_path / "history" / "chat.db")
    db.executemany("INSERT INTO conversations (id, created, updated) VALUES (?, 1, 1)", [("aaa11111",), ("aab22222",)])
    db.commit()
    db.close()
    code, _, err = invoke("show", "aa", "--config", config)
    assert code == 2 and err == "chat: 'aa' is ambiguous: aaa11111, aab22222"


def test_search(config: str, ids: list[str]) -> None:
    code, out, _ = invoke("search", "weather", "beijing", "--config", config)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "id\tdate\trole\ttitle\tsnippet" and len(lines) == 2
    assert lines[1].split("\t")[0] == ids[0] and lines[1].split("\t")[2] == "user"
    out = invoke("search", "天气", "--config", config)[1]
    assert [line.split("\t")[0] for line in out.splitlines()[1:]] == [ids[1]]
    data = json.loads(invoke("search", "°C", "--json", "--config", config)[1])
    assert [(d["conversation_id"], d["role"]) for d in data] == [(ids[0], "assistant")]
    assert invoke("search", "nothing-like-this", "--config", config)[1] == "id\tdate\trole\ttitle\tsnippet\n"
    assert invoke("search", '"(', "AND", "*", "--config", config)[0] == 0


def test_export(config: str, ids: list[str]) -> None:
    code, out, _ = invoke("export", ids[1][:5], "--format", "json", "--config", config)
    data = json.loads(out)
    assert code == 0 and data["conversation"]["id"] == ids[1]
    assert [m["content"] for m in data["messages"]] == ["北京今天天气怎么样？", "晴，三度。"]
    assert data["messages"][1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    code, out, _ = invoke("export", ids[1], "--config", config)
    assert code == 0 and out.startswith("# 北京今天天气怎么样？\n") and "晴，三度。" in out
    evil = json.loads(invoke("export", ids[2], "-f", "json", "--config", config)[1])
    assert evil["messages"][1]["content"] == "answer \x1b[31mred\x1b[0m"  # lossless, escaped by JSON
    code, _, err = invoke("export", ids[1], "--format", "pdf", "--config", config)
    assert code == 2 and "unknown export format 'pdf'" in err


def test_delete(config: str, ids: list[str]) -> None:
    code, _, err = invoke("delete", ids[0], "--config", config)
    assert code == 2 and err == "chat: not deleting without --yes: stdin is not a terminal"
    assert invoke("show", ids[0], "--config", config)[0] == 0
    code, out, _ = invoke("delete", ids[0][:4], "--yes", "--config", config)
    assert code == 0 and out == f"deleted {ids[0]}\n"
    assert invoke("show", ids[0], "--config", config)[0] == 2
    assert [line.split("\t")[0] for line in invoke("list", "--config", config)[1].splitlines()[1:]] == ids[:0:-1]
    assert invoke("search", "weather", "--config", config)[1].count("\n") == 1


def test_unopenable_store_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "file" / "chat.db"}"\n', encoding="utf-8")
    code, out, err = invoke("list", "--config", str(config))
    assert code == 1 and out == "" and err.startswith("chat: conversation history is off: cannot open ")


def test_bad_store_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[store]\nenabled = 1\n", encoding="utf-8")
    code, _, err = invoke("list", "--config", str(config))
    assert code == 2 and err == f"chat: {config}:2: store.enabled must be true or false"
    config.write_text("[store]\npaht = 'x'\n", encoding="utf-8")
    assert "unknown key 'paht' in [store] (did you mean 'path'?)" in invoke("list", "--config", str(config))[2]


def test_store_config_defaults(tmp_path: Path, config: str) -> None:
    from chatcli.config import StoreConfig, load_config

    cfg = load_config(config)
    assert cfg.store.enabled and cfg.store.db_path() == tmp_path / "history" / "chat.db"
    assert load_config(str(tmp_path / "missing.toml")).store == StoreConfig()
    if sys.platform.startswith("linux"):
        assert StoreConfig().db_path() == tmp_path / "xdg-data" / "chatcli" / "chat.db"


def test_rich_tables_on_a_terminal(tmp_path: Path, ids: list[str]) -> None:
    with Store.open(tmp_path / "history" / "chat.db", pytest.fail) as store:
        rows, hits = store.list(), store.search("weather")
    out = io.StringIO()
    print_conversations(rows, out, tty=True)
    text = out.getvalue()
    assert "\t" not in text and "msgs" in text and ids[0] in text and "[bold]x[/bold]" in text
    assert "\x1b]0;" not in text and "chat --resume ID" in text
    out = io.StringIO()
    print_hits(hits, out, tty=True)
    assert ids[0] in out.getvalue() and "weather" in out.getvalue()


def test_import_stays_light() -> None:
    code = ("import sys; import chatcli.store.store; print(sorted(m for m in sys.modules if m.startswith('chatcli')));"
            "import chatcli.cli.sessions_cmd; print(sorted({'rich', 'platformdirs'} & set(sys.modules)))")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    loaded = str(['chatcli', 'chatcli.core', 'chatcli.core.messages', 'chatcli.errors', 'chatcli.store',
                  'chatcli.store.info', 'chatcli.store.pending', 'chatcli.store.rows', 'chatcli.store.schema', 'chatcli.store.store',
                  'chatcli.store.titles'])
    assert out.stdout.splitlines() == [loaded, "[]"]
