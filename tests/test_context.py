"""The context budget: estimates, windows, and leaving out the oldest turns."""

from __future__ import annotations

from chatcli.core.context import budget, context_window, estimate_text, fit
from chatcli.core.messages import Message, ToolCall
from chatcli.providers.catalog import FAMILIES, family
from tests import fakeserver as fs


def test_estimates_are_sensible_for_chinese_and_english():
    assert estimate_text("你好世界") == 4
    assert estimate_text("hello world, how are you") == 6
    assert 12 <= estimate_text("今天天气很好 and the weather is fine today") <= 18


def test_known_windows_and_budget():
    assert context_window("qwen-plus-2025-01-25") == 131_072
    assert context_window("glm-4-flash") == 131_072
    assert context_window("some-local-model") == 32_768
    assert budget("qwen-plus") == 131_072 - 8192
    assert budget("qwen-plus", 1000) == 1000


def test_windows_come_from_the_catalog_by_longest_prefix():
    assert context_window("glm-4v-plus") == 131_072 and not family("glm-4v-plus").tools  # glm-4v, not glm-4
    assert context_window("qwen3-max-preview") == 262_144
    assert context_window("qwen-long-latest") == 10_000_000 and family("qwen-long-latest").documents
    assert context_window("qwen2.5-vl-72b-instruct") == 32_768
    assert not family("Qwen-VL-Max", ignore_case=True).tools
    assert family("qwen-vl-plus").endpoint == "multimodal" and family("qwen-plus").endpoint == "text"
    assert len({f.prefix for f in FAMILIES}) == len(FAMILIES)


def turn(i: int, size: int = 100) -> list[Message]:
    return [Message("user", f"q{i} " + "x" * size), Message("assistant", f"a{i} " + "y" * size)]


def test_fit_keeps_everything_within_budget():
    msgs = [Message("system", "sys"), *turn(1), *turn(2), Message("user", "now")]
    assert fit(msgs, 10_000) == (msgs, 0)


def test_fit_drops_oldest_whole_turns_never_system_or_current():
    msgs = [Message("system", "sys"), *turn(1), *turn(2), *turn(3), Message("user", "now " + "z" * 400)]
    kept, dropped = fit(msgs, 200)
    assert dropped == 2
    assert [m.content[:2] for m in kept] == ["sy", "q3", "a3", "no"]
    kept, dropped = fit(msgs, 100)  # even the current turn alone is over: it is still sent, with the system prompt
    assert dropped == 3 and [m.content[:2] for m in kept] == ["sy", "no"]


def test_fit_never_splits_a_tool_exchange():
    call = ToolCall("c1", "get_current_time", "{}")
    msgs = [Message("user", "old " + "x" * 200),
            Message("assistant", "", tool_calls=[call]),
            Message("tool", '{"datetime": "..."}', tool_call_id="c1", name="get_current_time"),
            Message("assistant", "It is noon. " + "y" * 200),
            Message("user", "q2"), Message("assistant", "a2"),
            Message("user", "now")]
    kept, dropped = fit(msgs, 30)
    assert dropped == 1
    assert [m.role for m in kept] == ["user", "assistant", "user"]
    assert not any(m.role == "tool" for m in kept)


def test_ask_continue_leaves_out_old_turns_and_says_so(chat, server):
    for i in range(3):
        server.queue(fs.dashscope_text([f"answer {i} " + "y" * 300]))
        args = ["ask", "-c"] if i else ["ask"]
        assert chat.run(*args, f"question {i} " + "x" * 300).returncode == 0
    with chat.config.open("a") as f:
        f.write("\n[context]\nmax_tokens = 250\n")
    server.queue(fs.dashscope_text(["ok"]))
    proc = chat.run("ask", "-c", "the current question")
    assert proc.returncode == 0, proc.stderr
    sent = [r for r in server.requests if r.path.endswith("/chat/completions")][-1].json["messages"]
    assert [m["content"][:10] for m in sent] == ["question 2", "answer 2 y", "the curren"]
    assert "left out the 2 oldest turns" in proc.stderr
