"""Tests for chatcli.store.store: saving, reading back, search, export, bad files and concurrent writers."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatcli.core.messages import Message, ToolCall, Usage
from chatcli.errors import ChatError, ExitCode, UsageError
from chatcli.store.schema import MIGRATIONS
from chatcli.store.store import ID_ALPHABET, Store, StoreError, make_title

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "chatcli" / "chat.db"


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def store(db_path: Path, warnings: list[str]):
    s = Store.open(db_path, warnings.append)
    assert s.enabled and not warnings
    yield s
    s.close()


def chat(store: Store, *texts: str, provider: str = "qwen", model: str = "qwen-plus") -> str:
    """A conversation of user/assistant pairs: texts alternate user, assistant."""
    cid = store.new_conversation(provider, model, None)
    for i, text in enumerate(texts):
        store.add_message(cid, Message("user" if i % 2 == 0 else "assistant", text))
    return cid


# --- round trip ------------------------------------------------------------------------------


def test_every_field_round_trips(store: Store) -> None:
    cid = store.new_conversation("qwen", "qwen-plus", "You are terse.")
    assert len(cid) == 8 and set(cid) <= set(ID_ALPHABET)
    call = ToolCall("call_1", "get_weather", '{"city": "北京"}')
    sent = [
        Message("user", "What's the weather in Beijing?"),
        Message("assistant", "", reasoning="The user wants weather; call the tool.", tool_calls=[call]),
        Message("tool", '{"temp": 3}', tool_call_id="call_1", name="get_weather"),
        Message("assistant", "It is 3 °C and", interrupted=True),
        Message("user", [{"type": "text", "text": "and this?"}, {"type": "image_url", "image_url": {"url": "x"}}]),
        Message("assistant", None),
    ]
    usage = Usage(10, 20, 30, cached_tokens=4, reasoning_tokens=7)
    store.add_message(cid, sent[0])
    store.add_message(cid, sent[1], provider="qwen", model="qwen-max", usage=usage)
    store.add_message(cid, sent[2])
    store.add_message(cid, sent[3], provider="zhipu", model="glm-4-plus", failed=True)
    store.add_message(cid, sent[4])
    store.add_message(cid, sent[5])

    assert store.messages(cid) == sent
    records = store.records(cid)
    assert [r.usage for r in records] == [None, usage, None, None, None, None]
    assert [r.failed for r in records] == [False, False, False, True, False, False]
    assert [(r.provider, r.model) for r in records[:4]] == [(None, None), ("qwen", "qwen-max"), (None, None),
                                                           ("zhipu", "glm-4-plus")]
    assert all(abs(r.created - time.time()) < 60 for r in records)
    assert records == sorted(records, key=lambda r: r.id)

    info = store.info(cid)
    assert (info.id, info.title, info.system, info.message_count) == (cid, "What's the weather in Beijing?",
                                                                      "You are terse.", 6)
    assert (info.provider, info.model) == ("zhipu", "glm-4-plus")  # the last model that answered
    assert info.created <= info.updated


def test_system_prompt_and_system_messages(store: Store) -> None:
    cid = store.new_conversation("qwen", "qwen-plus", "first")
    store.set_system(cid, "second")  # before anything is written
    store.add_message(cid, Message("user", "hi"))
    assert store.info(cid).system == "second"
    store.add_message(cid, Message("system", "third"))  # stored as the system prompt, not a message
    assert store.info(cid).system == "third"
    store.set_system(cid, None)
    assert store.info(cid).system is None
    assert [m.role for m in store.messages(cid)] == ["user"]


def test_empty_conversation_leaves_nothing(store: Store) -> None:
    old = chat(store, "hello", "hi")
    store.new_conversation("qwen", "qwen-plus", "unused")
    assert store.last_id() == old and len(store.list()) == 1


@pytest.mark.parametrize("text, title", [
    ("short question", "short question"),
    ("  line one\n\n  line two\tend  ", "line one line two end"),
    ("word " * 40, ("word " * 11).strip() + "…"),
    ("x" * 100, "x" * 59 + "…"),
    ("北京" * 50, "北京" * 14 + "北…"),
])
def test_titles(store: Store, text: str, title: str) -> None:
    cid = store.new_conversation("qwen", "qwen-plus", None)
    store.add_message(cid, Message("assistant", "greeting first"))
    assert store.info(cid).title == ""
    store.add_message(cid, Message("user", text))
    store.add_message(cid, Message("user", "a later question"))
    assert store.info(cid).title == title == make_title(text)
    store.set_title(cid, "Weather\nin Beijing")
    assert store.info(cid).title == "Weather in Beijing"


# --- finding conversations ---------------------------------------------------------------------


def test_last_id_list_order_and_limit(store: Store) -> None:
    assert store.last_id() is None and store.list() == []
    ids = [chat(store, f"question {i}") for i in range(5)]
    assert store.last_id() == ids[-1]
    store.add_message(ids[1], Message("assistant", "a late answer"))
    assert store.last_id() == ids[1]
    listed = store.list()
    assert [c.id for c in listed] == [ids[1], ids[4], ids[3], ids[2], ids[0]]
    assert [c.message_count for c in listed] == [2, 1, 1, 1, 1]
    assert [c.id for c in store.list(limit=2)] == [ids[1], ids[4]]


def test_resolve_prefixes(store: Store) -> None:
    db = sqlite3.connect(store.path)
    now = time.time()
    db.executemany("INSERT INTO conversations (id, created, updated) VALUES (?, ?, ?)",
                   [(i, now, now) for i in ("abc12345", "abd23456", "xyz98765")])
    db.commit()
    db.close()
    assert store.resolve("abc") == "abc12345"
    assert store.resolve("ABD2") == "abd23456"
    assert store.resolve("xyz98765") == "xyz98765"
    with pytest.raises(UsageError, match=r"^'ab' is ambiguous: abc12345, abd23456$") as info:
        store.resolve("ab")
    assert info.value.exit_code == ExitCode.USAGE
    for missing in ("q", "abcd", "", "%", "ab_", "abc12345x"):
        with pytest.raises(UsageError, match="^no conversation "):
            store.resolve(missing)
    with pytest.raises(UsageError, match="^no conversation 'nope1234'$"):
        store.info("nope1234")


def test_search_english_and_chinese(store: Store) -> None:
    a = chat(store, "What is the weather like in Beijing?", "Cold and sunny, about 3 °C.")
    b = chat(store, "北京今天天气怎么样？", "北京今天晴，气温三度。")
    c = chat(store, "Tell me a joke about databases", "SQLite walks into a bar...")
    hits = store.search("weather")
    assert [(h.conversation_id, h.role) for h in hits] == [(a, "user")]
    assert hits[0].title == "What is the weather like in Beijing?"
    assert "weather" in hits[0].snippet
    assert [h.conversation_id for h in store.search("WEATHER beijing")] == [a]
    assert [h.conversation_id for h in store.search("weather joke")] == []
    assert [(h.conversation_id, h.role) for h in store.search("今天天气")] == [(b, "user")]
    assert [h.role for h in store.search("北京今天")] == ["assistant", "user"]  # newest first
    assert [h.role for h in store.search("天气")] == ["user"]  # 2 characters: the trigrams it starts
    assert [h.role for h in store.search("晴")] == ["assistant"]  # 1 character: LIKE
    assert [h.conversation_id for h in store.search("SQLite bar")] == [c]
    assert store.search("") == [] and store.search("   ") == []
    assert len(store.search("e", limit=2)) == 2


def test_short_words(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    end = chat(store, "北京天气")  # the word ends the text: no trigram starts with it but for the padding
    whole = chat(store, "你好")  # shorter than a trigram
    ai = chat(store, "Ask the AI", "ok")
    assert [h.conversation_id for h in store.search("天气")] == [end]
    assert [h.conversation_id for h in store.search("你好")] == [whole]
    assert [h.conversation_id for h in store.search("ai")] == [ai]
    assert [h.conversation_id for h in store.search("京天 北京天气")] == [end]
    assert [h.role for h in store.search("ok")] == ["assistant"]
    assert store.search("好你") == [] and store.search("zz") == []
    monkeypatch.setattr("chatcli.store.store.MAX_GRAMS", 0)  # too many trigrams: scan with LIKE instead
    assert [h.conversation_id for h in store.search("天气")] == [end]
    assert [h.conversation_id for h in store.search("AI")] == [ai]


@pytest.mark.parametrize("query", ['"', '""', 'say "hi', "*", "a*", "AND", "weather AND", "(", "(x OR y)",
                                   "NEAR(a b)", "col:val", "^start", "-x", "100%", "a_b", "\\", "'; DROP"])
def test_search_syntax_is_literal(store: Store, query: str) -> None:
    chat(store, "plain text about weather", 'odd chars: say "hi" (x OR y) a*b 100% a_b \\ col:val ^start')
    hits = store.search(query)
    for hit in hits:
        assert hit.role == "assistant"
    assert bool(hits) == all(word.lower() in 'odd chars: say "hi" (x or y) a*b 100% a_b \\ col:val ^start'
                             for word in query.lower().split())


def test_snippet_is_around_the_match(store: Store) -> None:
    chat(store, "filler " * 50 + "needle in the haystack " + "more " * 50)
    snippet = store.search("needle")[0].snippet
    assert snippet.startswith("…") and snippet.endswith("…") and "needle in the haystack" in snippet
    assert len(snippet) <= 82 and "\n" not in snippet


def test_delete_removes_messages_and_index(store: Store) -> None:
    keep = chat(store, "keep this zebra", "ok")
    gone = chat(store, "delete this zebra", "fine")
    store.delete(gone)
    with pytest.raises(UsageError):
        store.info(gone)
    assert store.messages(gone) == []
    assert [h.conversation_id for h in store.search("zebra")] == [keep]
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT count(*) FROM messages WHERE conversation_id = ?", (gone,)).fetchone() == (0,)
    vocab = dict(db.execute("SELECT term, doc FROM messages_vocab"))
    assert "del" not in vocab and "fin" not in vocab and vocab["zeb"] == 1 and vocab["kee"] == 1
    db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
    db.close()


# --- export ----------------------------------------------------------------------------------------


def test_export_json_has_every_field(store: Store) -> None:
    cid = store.new_conversation("qwen", "qwen-plus", "Be brief.")
    store.add_message(cid, Message("user", "weather?"))
    store.add_message(cid, Message("assistant", "", reasoning="think", tool_calls=[ToolCall("c1", "w", "{}")]),
                      model="qwen-plus", usage=Usage(1, 2, 3))
    store.add_message(cid, Message("tool", "{}", tool_call_id="c1", name="w"))
    store.add_message(cid, Message("assistant", "cut", interrupted=True), failed=True)
    data = json.loads(store.export(cid, "json"))
    conv = data["conversation"]
    assert (conv["id"], conv["title"], conv["system"], conv["message_count"]) == (cid, "weather?", "Be brief.", 4)
    assert set(conv) == {"id", "title", "created", "updated", "provider", "model", "system", "message_count",
                         "role", "extra"}
    first, call, tool, last = data["messages"]
    assert set(first) == {"id", "role", "content", "reasoning", "tool_calls", "tool_call_id", "name", "provider",
                          "model", "usage", "created", "interrupted", "failed", "withdrawn"}
    assert call["tool_calls"] == [{"id": "c1", "name": "w", "arguments": "{}"}] and call["reasoning"] == "think"
    assert call["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert (tool["role"], tool["tool_call_id"], tool["name"]) == ("tool", "c1", "w")
    assert last["interrupted"] is True and last["failed"] is True and first["failed"] is False


def test_export_markdown(store: Store) -> None:
    cid = store.new_conversation("qwen", "qwen-plus", "Be brief.")
    store.add_message(cid, Message("user", "weather in 北京?"))
    store.add_message(cid, Message("assistant", "", reasoning="need the tool",
                                   tool_calls=[ToolCall("c1", "get_weather", '{"city": "北京"}')]),
                      model="qwen-plus", usage=Usage(10, 5, 15))
    store.add_message(cid, Message("tool", json.dumps({"temp": 3, "text": "x" * 1000}), tool_call_id="c1",
                                   name="get_weather"))
    store.add_message(cid, Message("assistant", "It is **cold**.", interrupted=True), model="qwen-plus")
    md = store.export(cid, "md")
    assert md.startswith("# weather in 北京?\n")
    assert f"- id: {cid}" in md and "- model: qwen / qwen-plus" in md
    assert "## System\n\nBe brief." in md
    assert "## User · " in md and "## Assistant · qwen-plus · " in md
    assert "> need the tool" in md
    assert '- call `get_weather({"city": "北京"})`' in md
    assert "## Tool result: get_weather · " in md and "x" * 1000 not in md and "…`" in md
    assert "_10 prompt + 5 completion tokens_" in md
    assert "(interrupted)\n\nIt is **cold**." in md
    with pytest.raises(UsageError, match="unknown export format 'txt'"):
        store.export(cid, "txt")


# --- files, permissions, bad databases ----------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_permissions(store: Store, db_path: Path) -> None:
    chat(store, "hello")
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600, path
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    db.close()


def test_loose_permissions_are_tightened(db_path: Path, warnings: list[str]) -> None:
    db_path.parent.mkdir(parents=True)
    sqlite3.connect(db_path).close()
    db_path.chmod(0o644)
    Store.open(db_path, warnings.append).close()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


def bad_file(kind: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "random bytes":
        path.write_bytes(os.urandom(8192))
        Path(f"{path}-wal").write_bytes(os.urandom(100))
    elif kind == "text file":
        path.write_text("this is not a database\n" * 100)
    elif kind == "newer schema":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE future (x)")
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        db.commit()
        db.close()
    elif kind == "corrupt pages":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE t (x)")
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
        db.commit()
        db.close()
        data = bytearray(path.read_bytes())
        data[100:4096] = os.urandom(3996)  # the schema page
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["random bytes", "text file", "newer schema", "corrupt pages"])
def test_bad_file_is_moved_aside(db_path: Path, warnings: list[str], kind: str) -> None:
    bad_file(kind, db_path)
    original = db_path.read_bytes()
    store = Store.open(db_path, warnings.append)
    assert store.enabled
    assert len(warnings) == 1 and "moved it to chat.db." in warnings[0] and "started a new one" in warnings[0]
    aside = [p for p in db_path.parent.iterdir() if p.name.startswith("chat.db.") and not p.name.endswith("-wal")]
    assert len(aside) == 1
    label = "newer" if kind == "newer schema" else "corrupt"
    assert aside[0].name.startswith(f"chat.db.{label}-20") and aside[0].read_bytes() == original
    assert aside[0].name[-15:-7].isdigit() and aside[0].name[-6:].isdigit()  # -YYYYmmdd-HHMMSS
    if kind == "random bytes":
        assert Path(f"{aside[0]}-wal").exists()
    cid = chat(store, "works again")
    assert store.last_id() == cid and store.search("again")[0].conversation_id == cid
    store.add_message(cid, Message("assistant", "and keeps working"))
    assert len(warnings) == 1
    store.close()


def test_unwritable_location_gives_a_disabled_store(tmp_path: Path, warnings: list[str]) -> None:
    (tmp_path / "file").write_text("a file, not a directory")
    store = Store.open(tmp_path / "file" / "chatcli" / "chat.db", warnings.append)
    assert not store.enabled
    assert len(warnings) == 1 and warnings[0].startswith("conversation history is off: cannot open ")
    cid = store.new_conversation("qwen", "qwen-plus", "sys")
    store.add_message(cid, Message("user", "hello"))
    store.set_system(cid, "x")
    assert store.last_id() is None and store.list() == [] and store.search("hello") == []
    assert store.messages(cid) == []
    with pytest.raises(ChatError):
        store.resolve("abc")
    store.close()
    assert len(warnings) == 1
    assert not Store.disabled().enabled


def test_failed_saves_warn_once_and_go_on(store: Store, warnings: list[str]) -> None:
    cid = chat(store, "first")
    db = sqlite3.connect(store.path)
    db.execute("DROP TABLE messages")
    db.commit()
    db.close()
    store.add_message(cid, Message("assistant", "lost"))
    store.add_message(cid, Message("user", "also lost"))
    assert len(warnings) == 1 and "could not save" in warnings[0]
    with pytest.raises(StoreError):
        store.messages(cid)


# --- concurrency -------------------------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path
from chatcli.core.messages import Message, Usage
from chatcli.store.store import Store
warnings = []
store = Store.open(Path(sys.argv[1]), warnings.append)
name, count = sys.argv[2], int(sys.argv[3])
sys.stdin.readline()  # start together
cid = store.new_conversation("qwen", "qwen-plus", None)
for i in range(count):
    store.add_message(cid, Message("user" if i % 2 == 0 else "assistant", f"{name} message {i} 天气"),
                      usage=Usage(i, i, 2 * i))
    if i % 50 == 0:
        store.search(name), store.list(5), store.last_id()
store.close()
print(cid, len(warnings), warnings)
"""


def test_concurrent_writers(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    names, count = ["alpha", "bravo", "charlie", "delta"], 200
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), name, str(count)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in names]
    time.sleep(0.3)  # let them all open (and race to create) the database
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [proc.communicate(timeout=60) for proc in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0 and err == "", err
        assert out.split()[1] == "0", out
    with Store.open(db_path, lambda m: pytest.fail(m)) as store:
        for name, (out, _) in zip(names, results):
            cid = out.split()[0]
            texts = [m.content for m in store.messages(cid)]
            assert texts == [f"{name} message {i} 天气" for i in range(count)]
            assert len(store.search(f"{name} message", limit=1000)) == count
        assert len(store.list()) == len(names)


def test_without_an_fts_index_search_scans(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite without FTS5 or the trigram tokenizer (< 3.34): the schema has no index, search uses LIKE."""
    no_tokenizer = ["CREATE VIRTUAL TABLE messages_fts USING fts5(x, tokenize='nope')"]
    monkeypatch.setattr("chatcli.store.schema._FTS_V1", no_tokenizer)
    with Store.open(db_path, pytest.fail) as store:
        cid = chat(store, "北京今天天气怎么样？", "Cold and SUNNY")
        assert [h.role for h in store.search("天气")] == ["user"]
        assert [h.role for h in store.search("sunny cold")] == ["assistant"]
        assert store.search("rain") == []
        store.delete(cid)
    monkeypatch.undo()
    with Store.open(db_path, pytest.fail) as store:  # opened again by a SQLite that has it: still fine
        chat(store, "the weather")
        assert [h.role for h in store.search("weather")] == ["user"]


def test_move_aside_never_overwrites(tmp_path: Path) -> None:
    from chatcli.store.schema import move_aside

    names = []
    for content in ("one", "two", "three"):
        (tmp_path / "chat.db").write_text(content)
        names.append(move_aside(tmp_path / "chat.db", "corrupt").name)
    assert len(set(names)) == 3 and not (tmp_path / "chat.db").exists()
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == ["one", "three", "two"]
