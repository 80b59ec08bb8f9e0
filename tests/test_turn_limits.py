"""The turn engine's guards, in-process: too many tool calls at once, answers the safety review withdrew."""

from __future__ import annotations

import json
from pathlib import Path

from chatcli.app.session import ChatSession
from chatcli.config import load_config
from chatcli.core.conversation import MAX_CALLS_PER_ROUND
from chatcli.core.messages import Notice, ToolResult
from chatcli.providers.wire import api_messages
from tests.fakeprovider import fake_for, text_reply


def session_with(tmp_path: Path) -> tuple[ChatSession, object]:
    path = tmp_path / "config.toml"
    path.write_text('[store]\nenabled = false\n', encoding="utf-8")
    cfg = load_config(str(path))
    fake = fake_for(cfg)
    return ChatSession(cfg, providers={"qwen": fake}), fake


def test_too_many_tool_calls_at_once_are_capped(tmp_path):
    session, fake = session_with(tmp_path)
    calls = [(f"call_{i}", "get_current_time", '{"timezone": "UTC"}') for i in range(MAX_CALLS_PER_ROUND + 8)]
    fake.enqueue(calls, "done")
    events = list(session.send("what time is it, forty times?"))
    assert sum(isinstance(e, ToolResult) for e in events) == MAX_CALLS_PER_ROUND
    assert any(isinstance(e, Notice) and f"ran the first {MAX_CALLS_PER_ROUND}" in e.text for e in events)
    tool_messages = [m for m in fake.requests[1].messages if m.role == "tool"]
    assert [m.tool_call_id for m in tool_messages] == [c[0] for c in calls]  # every call answered, in order
    assert "not run" in json.loads(tool_messages[-1].content)["error"]
    assert session.last is not None and session.last.content == "done"


def test_withdrawn_answer_is_kept_marked_and_not_sent_back(tmp_path):
    session, fake = session_with(tmp_path)
    fake.enqueue(text_reply("有问题的", "回答", finish="sensitive"), "ok")
    list(session.send("问题一"))
    answer = session.conversation.messages[-1]
    assert answer.role == "assistant" and answer.content == "有问题的回答" and answer.withdrawn
    list(session.send("问题二"))
    sent = api_messages(fake.requests[1].messages)
    assert "有问题的回答" not in json.dumps(sent, ensure_ascii=False)
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]


def test_ordinary_answer_is_not_withdrawn(tmp_path):
    session, fake = session_with(tmp_path)
    fake.enqueue(text_reply("cut at the limit", finish="length"))
    list(session.send("hi"))
    assert not session.conversation.messages[-1].withdrawn
