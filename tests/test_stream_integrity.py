"""A 200 answer is not always an answer: cut streams, empty streams, pages and shapes that were not asked for.

Each class of failure runs the real `chat ask` against a loopback server that misbehaves on purpose,
checking what the user sees, the exit code and what the database holds; its variants run the real
providers (and SDKs) in-process against the same server, which is much faster than a process each.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from chatcli.config import load_config
from chatcli.core.messages import ChatRequest, Message, TextDelta
from chatcli.errors import ProviderError
from chatcli.providers.registry import create_provider
from tests import fakeserver as fs
from tests.fake_dashscope import NativeReply, NativeService
from tests.test_ask import one_line_error

PORTAL = b"<html><head><title>Hotel WiFi</title></head><body>Please log in to continue</body></html>"
WHOLE = {"id": "cmpl-1", "object": "chat.completion", "created": 1, "model": "m", "request_id": "r1",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "the whole answer"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}


@pytest.fixture
def native(chat, server):
    with chat.config.open("a") as f:
        f.write(f'\n[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    return NativeService(server)


def stored(chat) -> list[tuple[str, str, int]]:
    """(role, content, interrupted) of every saved message, in order."""
    with sqlite3.connect(chat.home / ".local" / "share" / "chatcli" / "chat.db") as db:
        return db.execute("SELECT role, content, interrupted FROM messages ORDER BY id").fetchall()


def sse_body(*lines: bytes) -> fs.Reply:
    return fs.raw(200, b"".join(lines), {"Content-Type": "text/event-stream"})


@pytest.fixture
def call(chat, monkeypatch):
    """call(provider, stream=True) -> (text, error): one model call in-process through the real adapter."""
    for name in ("DASHSCOPE_API_KEY", "ZHIPUAI_API_KEY"):
        monkeypatch.setenv(name, chat.env[name])
    cfg = load_config(str(chat.config))

    def run(provider: str, stream: bool = True) -> tuple[str, ProviderError | None]:
        request = ChatRequest([Message("user", "hi")], cfg.provider(provider).model, stream=stream)
        text = ""
        try:
            for event in create_provider(cfg.provider(provider)).stream(request):
                text += event.text if isinstance(event, TextDelta) else ""
        except ProviderError as err:
            return text, err
        return text, None
    return run


def failed(outcome: tuple[str, ProviderError | None], exit_code: int, *needles: str) -> str:
    """The error's message, checked: one line, the exit code, every needle."""
    err = outcome[1]
    assert err is not None, outcome
    assert int(err.exit_code) == exit_code and "\n" not in err.message, err.message
    for needle in needles:
        assert needle in err.message, (needle, err.message)
    return err.message


# --- a stream that ends without its finish reason is cut ---------------------------------------

CUT = [
    ("qwen", lambda: fs.truncated(fs.dashscope_text(["first ", "second ", "third"]), 3)),
    ("zhipu", lambda: fs.truncated(fs.zhipu_text(["first ", "second ", "third"]), 2)),
    ("dashscope", lambda: NativeReply(["first ", "second ", "third"], end_after=2)),
]


def test_clean_close_without_finish_is_cut(chat, server):
    server.queue(fs.truncated(fs.dashscope_text(["first ", "second ", "third"]), 3))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 5
    assert proc.stdout == "first second \n"
    one_line_error(proc, "qwen", "cut off", "without a finish reason")
    assert stored(chat) == [("user", "hi", 0), ("assistant", "first second ", 1)]


@pytest.mark.parametrize("provider, reply", CUT, ids=[c[0] for c in CUT])
def test_every_adapter_sees_the_cut(server, native, call, provider, reply):
    (native.queue if provider == "dashscope" else server.queue)(reply())
    outcome = call(provider)
    assert outcome[0] == "first second "
    failed(outcome, 5, provider, "cut off")


def test_cut_answer_in_json_has_an_error(chat, server):
    server.queue(fs.truncated(fs.dashscope_text(["part one ", "part two ", "never"]), 3))
    proc = chat.run("ask", "--json", "hi")
    assert proc.returncode == 5
    data = json.loads(proc.stdout)
    assert data["content"] == "part one part two "
    assert data["finish_reason"] is None
    assert data["error"]["exit_code"] == 5 and "cut off" in data["error"]["message"]


def test_empty_stream_is_an_error(chat, server):
    server.queue(sse_body(b"data: [DONE]\n\n"))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 5 and proc.stdout == ""
    one_line_error(proc, "qwen", "empty answer")
    assert stored(chat) == [("user", "hi", 0)]  # nothing to keep of the answer


@pytest.mark.parametrize("provider", ["zhipu", "dashscope"])
def test_every_adapter_refuses_an_empty_stream(server, native, call, provider):
    (native.queue if provider == "dashscope" else server.queue)(sse_body(b"data: [DONE]\n\n" if provider == "zhipu"
                                                                          else b""))
    failed(call(provider), 5, "empty answer")


def test_tool_calls_without_finish_are_not_run(chat, server):
    server.queue(fs.truncated(fs.dashscope_tool_calls([("call_1", "get_current_time", "{}")]), 2))
    proc = chat.run("ask", "--json", "what time is it?")
    assert proc.returncode == 5
    data = json.loads(proc.stdout)
    assert data["tool_calls"] == [] and "cut off" in data["error"]["message"]
    assert len(fs.completions(server)) == 1  # no tool result sent back for a half-received call


# --- 200 answers that are not what was asked for -------------------------------------------------

def test_captive_portal_page(chat, server):
    server.queue(fs.raw(200, PORTAL, {"Content-Type": "text/html; charset=utf-8"}))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 1 and proc.stdout == ""
    one_line_error(proc, "qwen", "text/html, not an event stream", "Please log in", "check base_url", server.url)


@pytest.mark.parametrize("provider", ["qwen", "zhipu", "dashscope"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_every_adapter_names_the_page(server, native, call, provider, stream):
    reply = fs.raw(200, PORTAL, {"Content-Type": "text/html; charset=utf-8"})
    (native.queue if provider == "dashscope" else server.queue)(reply)
    failed(call(provider, stream), 1, provider, "text", "Please log in", "check base_url", server.url)


def test_plain_text_answer(server, call):
    server.queue(fs.raw(200, b"upstream connect error or disconnect/reset before headers",
                        {"Content-Type": "text/plain"}))
    failed(call("qwen"), 1, "text/plain, not an event stream", "upstream connect error", "check base_url")


SHAPES = {
    "choices-str": b'data: {"id":"a","choices":"x"}\n\n',
    "delta-str": b'data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"m",'
                 b'"choices":[{"index":0,"delta":"x"}]}\n\n',
    "list": b"data: [1]\n\n",
    "null": b"data: null\n\n",
    "content-number": b'data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"m",'
                      b'"choices":[{"index":0,"delta":{"content":5}}]}\n\n',
}


def test_chunk_of_another_shape(chat, server):
    server.queue(sse_body(SHAPES["choices-str"], b"data: [DONE]\n\n"))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 1, proc.stderr
    one_line_error(proc, "qwen", "another shape", "`choices` is not a list", "check base_url")


@pytest.mark.parametrize("provider", ["qwen", "zhipu"])
@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
def test_every_shape_through_both_sdks(server, call, provider, shape):
    server.queue(sse_body(SHAPES[shape], b"data: [DONE]\n\n"))
    failed(call(provider), 1, provider, "another shape", "check base_url")


def test_json_completion_answering_a_stream_is_read_whole(chat, server):
    server.queue(fs.json_reply(WHOLE))
    proc = chat.run("ask", "--usage", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "the whole answer\n"
    assert "3" in proc.stderr and "4" in proc.stderr  # the usage line: 3 in, 4 out
    assert stored(chat)[-1] == ("assistant", "the whole answer", 0)


def test_zhipu_reads_a_json_completion_answering_a_stream(server, call):
    server.queue(fs.json_reply(WHOLE))
    assert call("zhipu") == ("the whole answer", None)


@pytest.mark.parametrize("provider", ["qwen", "zhipu"])
def test_json_of_another_shape_answering_a_stream(server, call, provider):
    server.queue(fs.json_reply({"status": "ok", "data": [1, 2, 3]}))
    failed(call(provider), 1, provider, "another shape", '"status"', "check base_url")


def test_json_error_answering_a_stream_is_classified(server, call):
    server.queue(fs.json_reply({"error": {"code": "invalid_api_key", "message": "Incorrect API key provided."}}))
    failed(call("qwen"), 3, "authentication failed")


@pytest.mark.parametrize("provider", ["qwen", "zhipu"])
def test_no_stream_completion_of_another_shape(server, call, provider):
    server.queue(fs.json_reply({"choices": [{"message": "x"}]}))
    failed(call(provider, stream=False), 1, "`message` is not an object", "check base_url")


# --- the native protocol -------------------------------------------------------------------------

def test_native_json_body_answering_a_stream(native, call):
    body = {"output": {"choices": [{"message": {"role": "assistant", "content": "整段回答"}, "finish_reason": "stop"}]},
            "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}, "request_id": "r"}
    native.queue(fs.json_reply(body))
    assert call("dashscope") == ("整段回答", None)


@pytest.mark.parametrize("data", [b"data:not json\n\n", b'data:{"output": "x"}\n\n', b"data:[1]\n\n",
                                  b'data:{"output":{"choices":[{"message":{"content":7}}]}}\n\n'])
def test_native_event_of_another_shape(native, call, data):
    native.queue(sse_body(b"id:1\nevent:result\n:HTTP_STATUS/200\n" + data))
    failed(call("dashscope"), 1, "dashscope", "another shape", "check base_url")


CHUNK = {"id": "a", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
FIELDS = {  # a field of another type, deep in an otherwise good chunk
    "tool-id": {"tool_calls": [{"index": 0, "id": 5, "function": {"name": "f", "arguments": "{}"}}]},
    "function": {"tool_calls": [{"index": 0, "id": "c", "function": 1}]},
    "arguments": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]},
    "reasoning": {"reasoning_content": ["x"]},
}


@pytest.mark.parametrize("provider", ["qwen", "zhipu"])
@pytest.mark.parametrize("field", FIELDS, ids=list(FIELDS))
def test_a_field_of_another_type_is_one_line(server, call, provider, field):
    chunk = json.loads(json.dumps(CHUNK))
    chunk["choices"][0]["delta"].update(FIELDS[field])
    server.queue(sse_body(b"data: " + json.dumps(chunk).encode() + b"\n\n", b"data: [DONE]\n\n"))
    failed(call(provider), 1, provider, "another shape", "check base_url")


def test_counts_of_another_type_read_as_zero(server, call):
    chunk = {**CHUNK, "usage": {"prompt_tokens": "many", "completion_tokens": None, "total_tokens": True}}
    server.queue(sse_body(b"data: " + json.dumps(chunk).encode() + b"\n\n", b"data: [DONE]\n\n"))
    assert call("qwen") == ("hi", None)


def test_native_reasoning_of_another_type(native, call):
    event = {"output": {"choices": [{"message": {"content": "", "reasoning_content": 7}, "finish_reason": "null"}]}}
    native.queue(sse_body(b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:" + json.dumps(event).encode() + b"\n\n"))
    failed(call("dashscope"), 1, "dashscope", "another shape", "reasoning_content")
