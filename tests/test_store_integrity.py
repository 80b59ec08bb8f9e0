"""The store loses nothing: a locked file, concurrent `chat ask -c`, unreadable rows, withdrawn answers.

Through the real program where it matters (another connection holding the lock while `chat ask` runs, two
`chat ask -c` at once, a corrupted row then `sessions show` and `ask -c`), in-process for the rest.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatcli.core.messages import Message, ToolCall, Usage
from chatcli.providers.wire import WITHDRAWN_PLACEHOLDER, api_messages
from chatcli.store import schema
from chatcli.store import store as store_module
from chatcli.store.rows import StoredMessage, sendable
from chatcli.store.store import Store
from chatcli.store.titles import make_title
from tests.conftest import ChatEnv
from tests.fakeserver import FakeServer, RecordedRequest, Reply, completions, dashscope_text, gated, zhipu_text

STARTUP = 60  # seconds a `chat` process may take to get going on a loaded machine


def db_path(chat: ChatEnv) -> Path:
    return chat.home / ".local" / "share" / "chatcli" / "chat.db"


def spawn(chat: ChatEnv, *args: str) -> subprocess.Popen[str]:
    """`python -m chatcli ARGS` started in the background."""
    return subprocess.Popen([sys.executable, "-m", "chatcli", *args], env=chat.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")


def stored(path: Path) -> list[tuple[str, str, list[tuple[str, object]]]]:
    """Every conversation in the file: (id, title, [(role, content), ...]), oldest first."""
    with Store.open(path, pytest.fail) as store:
        return [(c.id, c.title, [(m.role, m.content) for m in store.messages(c.id)])
                for c in reversed(store.list())]


@pytest.fixture
def lock_holder(chat: ChatEnv) -> Iterator[sqlite3.Connection]:
    """Another connection to the (existing, WAL) database holding its write lock until released."""
    Store.open(db_path(chat), pytest.fail).close()
    holder = sqlite3.connect(db_path(chat), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield holder
    if holder.in_transaction:
        holder.execute("ROLLBACK")
    holder.close()


# --- a database locked by another process -----------------------------------------------------------


def test_a_locked_database_saves_the_question_once_the_lock_clears(chat: ChatEnv, server: FakeServer,
                                                                   lock_holder: sqlite3.Connection) -> None:
    server.queue(dashscope_text(["Hello", " there"]))
    proc = spawn(chat, "ask", "what is up")
    server.wait_requests(1, timeout=STARTUP)  # sent while the lock is held
    received = time.time()
    lock_holder.execute("ROLLBACK")
    out, err = proc.communicate(timeout=STARTUP)
    assert proc.returncode == 0, err
    assert out.strip() == "Hello there" and err == ""
    [(cid, title, messages)] = stored(db_path(chat))
    assert title == "what is up"
    assert messages == [("user", "what is up"), ("assistant", "Hello there")]
    with Store.open(db_path(chat), pytest.fail) as store:
        asked = store.records(cid)[0].created  # when the question was appended, before it was first saved
    assert received - asked < schema.BUSY_TIMEOUT  # no long silent wait: it used to hold the request 3 x 5 s


def test_a_lock_that_never_clears_is_named_and_leaves_no_orphan(chat: ChatEnv, server: FakeServer,
                                                                 lock_holder: sqlite3.Connection) -> None:
    server.queue(dashscope_text(["Hello"]))
    proc = spawn(chat, "ask", "what is up")
    server.wait_requests(1, timeout=STARTUP)
    out, err = proc.communicate(timeout=STARTUP)  # the lock is held until the program has given up
    assert proc.returncode == 0 and out.strip() == "Hello"
    [line] = err.splitlines()
    assert line.startswith("chat: could not save the question and the answer of conversation ")
    assert "(“what is up”)" in line and "stayed locked by another process for 5 s" in line
    lock_holder.execute("ROLLBACK")
    assert stored(db_path(chat)) == []  # never an "(untitled)" conversation holding only the answer


def test_saves_wait_briefly_then_stay_pending_in_order(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    warnings: list[str] = []
    store = Store.open(path, warnings.append)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    cid = store.new_conversation("qwen", "qwen-plus", "Be brief.")
    started = time.monotonic()
    store.add_message(cid, Message("user", "question"))
    store.add_message(cid, Message("assistant", "answer"), provider="qwen", model="qwen-plus")
    assert time.monotonic() - started < 2 * store_module.QUICK_WAIT + 1  # not the 5 s busy timeout each
    assert holder.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    holder.execute("ROLLBACK")
    store.add_message(cid, Message("user", "second question"))  # the next save writes them all, in order
    assert [(m.role, m.content) for m in store.messages(cid)] == [
        ("user", "question"), ("assistant", "answer"), ("user", "second question")]
    assert store.info(cid).title == "question" and store.info(cid).system == "Be brief."
    store.close()
    holder.close()
    assert warnings == []


def test_close_flushes_what_is_pending_and_names_what_it_cannot(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "CLOSE_WAIT", 0.3)
    path = tmp_path / "chat.db"
    warnings: list[str] = []
    store = Store.open(path, warnings.append)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    kept = store.new_conversation("qwen", "qwen-plus", None)
    for i in range(3):
        store.add_message(kept, Message("user", f"question {i} " + "words " * 20))
        store.add_message(kept, Message("assistant", f"answer {i}"))
        store.add_message(kept, Message("tool", "{}", tool_call_id=f"c{i}", name="w"))
    store.close()
    holder.close()
    [line] = warnings
    assert line.startswith(f"could not save 3 questions, 3 answers and 3 tool results of conversation {kept} "
                           f"(“{make_title('question 0 ' + 'words ' * 20, 40)}”)")
    assert line.endswith("stayed locked by another process for 0.3 s")
    assert stored(path) == []


def test_other_failures_name_what_was_lost_once(tmp_path: Path) -> None:
    warnings: list[str] = []
    with Store.open(tmp_path / "chat.db", warnings.append) as store:
        cid = store.new_conversation("qwen", "qwen-plus", None)
        store.add_message(cid, Message("user", "first"))
        db = sqlite3.connect(tmp_path / "chat.db")
        db.execute("DROP TABLE messages")
        db.commit()
        db.close()
        store.add_message(cid, Message("assistant", "lost"))
        store.add_message(cid, Message("user", "also lost"))
    assert warnings == [f"could not save the answer of conversation {cid} to the conversation history "
                        "(no such table: messages); the chat goes on unsaved"]


def test_a_message_with_a_lone_surrogate_is_saved(tmp_path: Path) -> None:
    with Store.open(tmp_path / "chat.db", pytest.fail) as store:
        cid = store.new_conversation("qwen", "qwen-plus", None)
        store.add_message(cid, Message("user", "bad \udce9 byte"))
        assert [m.content for m in store.messages(cid)] == ["bad ? byte"]


# --- concurrent `chat ask -c` ---------------------------------------------------------------------


def answer_when(gate: threading.Event) -> Reply:
    """An answer naming the question it answers, sent once gate is set."""
    def write(conn: Any, req: RecordedRequest) -> None:
        question = req.json["messages"][-1]["content"]
        gated(dashscope_text([f"answer to {question}"]), 0, gate).write(conn, req)
    return Reply(write)


def test_concurrent_continues_keep_each_turn_together(chat: ChatEnv, server: FakeServer) -> None:
    server.queue(dashscope_text(["seed answer"]))
    assert chat.run("ask", "seed").returncode == 0
    gate = threading.Event()
    server.queue(answer_when(gate), answer_when(gate))
    procs = [spawn(chat, "ask", "-c", "alpha"), spawn(chat, "ask", "-c", "bravo")]
    server.wait_requests(3, timeout=STARTUP)  # both questions are saved before either is answered
    gate.set()
    results = [p.communicate(timeout=STARTUP) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert [out.strip() for out, _ in results] == ["answer to alpha", "answer to bravo"]
    [(_, title, messages)] = stored(db_path(chat))
    assert title == "seed" and messages[:2] == [("user", "seed"), ("assistant", "seed answer")]
    turns = [messages[2:4], messages[4:]]
    assert sorted(turns) == [[("user", q), ("assistant", f"answer to {q}")] for q in ("alpha", "bravo")]


def test_turns_of_two_writers_stay_whole(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    with Store.open(path, pytest.fail) as a, Store.open(path, pytest.fail) as b:
        cid = a.new_conversation("qwen", "qwen-plus", None)
        a.add_message(cid, Message("user", "a1"))
        b.add_message(cid, Message("user", "b1"))
        call = ToolCall("c1", "get_current_time", "{}")
        a.add_message(cid, Message("assistant", "", tool_calls=[call]))
        b.add_message(cid, Message("assistant", "b1 answer"))
        a.add_message(cid, Message("tool", "{}", tool_call_id="c1", name="get_current_time"))
        a.add_message(cid, Message("assistant", "a1 answer"))
        order = [(m.role, m.content) for m in a.messages(cid)]
        assert order == [("user", "a1"), ("assistant", ""), ("tool", "{}"), ("assistant", "a1 answer"),
                         ("user", "b1"), ("assistant", "b1 answer")]
        b.truncate(cid, 4)  # /undo in b: b's turn goes, a's stays
        assert [m.content for m in b.messages(cid)] == ["a1", "", "{}", "a1 answer"]


def test_a_version_1_database_is_migrated_and_keeps_its_order(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    db = sqlite3.connect(path, isolation_level=None)
    schema._migrate_v1(db)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO conversations (id, title, created, updated) VALUES ('abcd1234', 'old', 1, 2)")
    db.executemany("INSERT INTO messages (conversation_id, role, content, created) VALUES ('abcd1234', ?, ?, 1)",
                   [("user", "q"), ("assistant", "a")])
    db.close()
    with Store.open(path, pytest.fail) as store:
        assert [(m.role, m.content, m.withdrawn) for m in store.messages("abcd1234")] == [
            ("user", "q", False), ("assistant", "a", False)]
        store.add_message("abcd1234", Message("assistant", "filtered", withdrawn=True))
        assert store.messages("abcd1234")[-1].withdrawn
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (len(schema.MIGRATIONS),)
    check.close()


# --- rows that cannot be read -----------------------------------------------------------------------

CORRUPTIONS = {  # column = SQL value, and the reason the warning gives
    "bad JSON in parts": ("parts = '[{\"type\": \"text\", '", "parts is not valid JSON"),
    "invalid UTF-8": ("content = CAST(X'48e9ff6c6c6f' AS TEXT)", "content is not valid UTF-8"),
    "unknown role": ("role = 'robot'", "unknown role 'robot'"),
}


def seed(path: Path) -> tuple[str, list[int]]:
    """A saved conversation of two turns, the first with a tool call; its id and message ids."""
    with Store.open(path, pytest.fail) as store:
        cid = store.new_conversation("qwen", "qwen-plus", None)
        store.add_message(cid, Message("user", "one"))
        store.add_message(cid, Message("assistant", "", tool_calls=[ToolCall("c1", "get_current_time", "{}")]),
                          provider="qwen", model="qwen-plus")
        store.add_message(cid, Message("tool", '{"time": "noon"}', tool_call_id="c1", name="get_current_time"))
        store.add_message(cid, Message("assistant", "first answer"), provider="qwen", model="qwen-plus")
        store.add_message(cid, Message("user", "two"))
        store.add_message(cid, Message("assistant", "second answer"), provider="qwen", model="qwen-plus")
        return cid, [r.id for r in store.records(cid)]


def corrupt(path: Path, message_id: int, assignment: str) -> None:
    db = sqlite3.connect(path)
    db.execute(f"UPDATE messages SET {assignment} WHERE id = ?", (message_id,))
    db.commit()
    db.close()


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_an_unreadable_row_is_skipped_and_the_chat_goes_on(chat: ChatEnv, server: FakeServer, kind: str) -> None:
    path = db_path(chat)
    cid, ids = seed(path)
    assignment, why = CORRUPTIONS[kind]
    corrupt(path, ids[3], assignment)  # "first answer"
    warning = f"chat: conversation {cid}: skipped 1 saved message that cannot be read (message {ids[3]}: {why})\n"

    shown = chat.run("sessions", "show", cid)
    assert shown.returncode == 0 and shown.stderr == warning
    assert "one" in shown.stdout and "second answer" in shown.stdout and "first answer" not in shown.stdout

    exported = chat.run("sessions", "export", cid, "--format", "json")
    assert exported.returncode == 0 and exported.stderr == warning
    assert [m["content"] for m in json.loads(exported.stdout)["messages"]] == [
        "one", "", '{"time": "noon"}', "two", "second answer"]

    server.queue(dashscope_text(["third answer"]))
    asked = chat.run("ask", "-c", "three")
    assert asked.returncode == 0 and asked.stdout.strip() == "third answer" and asked.stderr == warning
    sent = [(m["role"], m["content"]) for m in completions(server)[-1].json["messages"]]
    assert sent == [("user", "one"), ("assistant", ""), ("tool", '{"time": "noon"}'), ("user", "two"),
                    ("assistant", "second answer"), ("user", "three")]
    with Store.open(path, lambda _: None) as store:
        assert len(store.records(cid)) == 7 and store.info(cid).message_count == 8  # the bad row is still there


def test_a_lost_tool_call_takes_its_result_out_of_the_history(chat: ChatEnv, server: FakeServer) -> None:
    path = db_path(chat)
    cid, ids = seed(path)
    corrupt(path, ids[1], "tool_calls = '[{\"id\": '")
    server.queue(dashscope_text(["third answer"]))
    asked = chat.run("ask", "-c", "three")
    assert asked.returncode == 0, asked.stderr
    assert f"(message {ids[1]}: tool_calls is not valid JSON)" in asked.stderr
    sent = [(m["role"], m["content"]) for m in completions(server)[-1].json["messages"]]
    assert sent == [("user", "one"), ("assistant", "first answer"), ("user", "two"),
                    ("assistant", "second answer"), ("user", "three")]


@pytest.mark.parametrize("assignment, why", [
    ("parts = '{\"type\": \"text\"}'", "parts is not a list of content parts"),
    ("tool_calls = '[{\"name\": \"x\"}]'", "tool_calls is not a list of calls"),
    ("tool_call_id = CAST(X'ff' AS TEXT)", "tool_call_id is not valid UTF-8"),
    ("role = ''", "unknown role ''"),
])
def test_more_unreadable_rows(tmp_path: Path, assignment: str, why: str) -> None:
    path = tmp_path / "chat.db"
    cid, ids = seed(path)
    corrupt(path, ids[2], assignment)
    warnings: list[str] = []
    with Store.open(path, warnings.append) as store:
        assert len(store.records(cid)) == 5
        assert store.records(cid) and store.export(cid, "md")
    assert warnings == [f"conversation {cid}: skipped 1 saved message that cannot be read "
                        f"(message {ids[2]}: {why})"]


def test_a_damaged_detail_keeps_its_message(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    cid, ids = seed(path)
    corrupt(path, ids[3], "usage = 'nope', reasoning = CAST(X'6f6bff' AS TEXT), created = 'x'")
    db = sqlite3.connect(path)
    db.execute("UPDATE conversations SET title = CAST(X'4869ff' AS TEXT)")
    db.commit()
    db.close()
    with Store.open(path, pytest.fail) as store:
        record = store.records(cid)[3]
        assert (record.message.content, record.usage, record.message.reasoning, record.created) == (
            "first answer", None, "ok\ufffd", 0.0)
        assert store.list()[0].title == "Hi\ufffd" and store.search("answer")[0].title == "Hi\ufffd"
        assert "first answer" in store.export(cid, "md")


def test_undo_after_a_skipped_row_removes_the_right_messages(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    cid, ids = seed(path)
    corrupt(path, ids[0], "role = 'robot'")  # "one": its turn's messages load without it
    with Store.open(path, lambda _: None) as store:
        loaded = store.messages(cid)
        assert [m.content for m in loaded] == ["", '{"time": "noon"}', "first answer", "two", "second answer"]
        store.truncate(cid, 3)  # /undo of "two" in a session that resumed this
        assert store.messages(cid) == loaded[:3]


def record(i: int, message: Message) -> StoredMessage:
    return StoredMessage(i, message, 0.0)


def test_sendable_pairs_calls_with_results() -> None:
    a, b = ToolCall("a", "f"), ToolCall("b", "f")
    history = [Message("user", "q"), Message("assistant", "looking", tool_calls=[a, b]),
               Message("tool", "A", tool_call_id="a"), Message("user", "q2"),
               Message("tool", "stray", tool_call_id="b"), Message("assistant", "", tool_calls=[b]),
               Message("assistant", "done")]
    kept = [r.message for r in sendable([record(i, m) for i, m in enumerate(history)])]
    assert kept == [Message("user", "q"), Message("assistant", "looking", tool_calls=[a]),
                    Message("tool", "A", tool_call_id="a"), Message("user", "q2"), Message("assistant", "done")]
    whole = [record(i, m) for i, m in enumerate(history[:3])]
    whole[1] = record(1, Message("assistant", "looking", tool_calls=[a]))
    assert sendable(whole) == whole


# --- withdrawn answers ---------------------------------------------------------------------------------


def test_a_withdrawn_answer_is_saved_marked_and_not_sent_back(chat: ChatEnv, server: FakeServer) -> None:
    server.queue(zhipu_text(["something the review ", "stopped"], finish="sensitive"))
    first = chat.run("ask", "--provider", "zhipu", "tell me")
    assert first.returncode == 1 and "stopped" in first.stdout and "finish_reason: sensitive" in first.stderr
    with Store.open(db_path(chat), pytest.fail) as store:
        cid = store.last_id()
        assert cid is not None
        assert [(m.role, m.withdrawn) for m in store.messages(cid)] == [("user", False), ("assistant", True)]

    server.queue(zhipu_text(["fine"]))
    again = chat.run("ask", "-c", "and now?")
    assert again.returncode == 0 and again.stdout.strip() == "fine"
    sent = [(m["role"], m["content"]) for m in completions(server)[-1].json["messages"]]
    assert sent == [("user", "tell me"), ("assistant", WITHDRAWN_PLACEHOLDER), ("user", "and now?")]

    shown = chat.run("sessions", "show", cid)
    assert shown.returncode == 0 and "(withdrawn)" in shown.stdout
    assert "Withdrawn: the provider's safety review stopped this answer" in shown.stdout
    exported = json.loads(chat.run("sessions", "export", cid, "--format", "json").stdout)
    assert [m["withdrawn"] for m in exported["messages"]] == [False, True, False, False]


def test_api_messages_replace_withdrawn_text_unless_asked() -> None:
    history = [Message("user", "q"), Message("assistant", "filtered text", withdrawn=True), Message("user", "q2")]
    assert api_messages(history) == [{"role": "user", "content": "q"},
                                     {"role": "assistant", "content": WITHDRAWN_PLACEHOLDER},
                                     {"role": "user", "content": "q2"}]
    assert api_messages(history, send_withdrawn=True)[1]["content"] == "filtered text"
    assert history[1].content == "filtered text"  # the history keeps what was said


def test_withdrawn_round_trips_and_is_marked_in_exports(tmp_path: Path) -> None:
    with Store.open(tmp_path / "chat.db", pytest.fail) as store:
        cid = store.new_conversation("zhipu", "glm-4-flash", None)
        store.add_message(cid, Message("user", "q"))
        store.add_message(cid, Message("assistant", "filtered", withdrawn=True), model="glm-4-flash",
                          usage=Usage(1, 2, 3))
        assert store.messages(cid) == [Message("user", "q"), Message("assistant", "filtered", withdrawn=True)]
        md = store.export(cid, "md")
        assert "## Assistant · glm-4-flash · " in md and "(withdrawn)\n\n_Withdrawn: " in md
        assert [m["withdrawn"] for m in json.loads(store.export(cid, "json"))["messages"]] == [False, True]
