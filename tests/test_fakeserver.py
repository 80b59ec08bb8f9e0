"""The fake provider server, driven by the real openai and zhipuai SDKs (no mocks)."""
from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import zhipuai
from zhipuai.core import _errors as zerr

from tests.fakeserver import (
    FakeServer,
    close_immediately,
    cut,
    dashscope_error,
    dashscope_text,
    dashscope_tool_calls,
    error,
    gated,
    hang,
    json_reply,
    midstream_error,
    slow,
    zhipu_error,
    zhipu_text,
    zhipu_tool_calls,
)

MSGS = [{"role": "user", "content": "hi"}]


def make_oai(srv: FakeServer, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url + "/compatible-mode/v1", api_key="k", max_retries=0, **kw)


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeServer]:
    """One server (and one client per SDK) for the module: client construction costs ~35 ms."""
    with FakeServer() as s:
        yield s


@pytest.fixture
def srv(shared: FakeServer) -> Iterator[FakeServer]:
    """The shared server, reset; afterwards every response must have finished without errors."""
    shared.reset()
    yield shared
    shared.wait_responses(len(shared.requests), timeout=2)
    assert shared.errors == []


@pytest.fixture(scope="module")
def oai(shared: FakeServer) -> openai.OpenAI:
    return make_oai(shared)


@pytest.fixture(scope="module")
def zp(shared: FakeServer) -> zhipuai.ZhipuAI:
    return zhipuai.ZhipuAI(api_key="k", base_url=shared.url + "/api/paas/v4", max_retries=0)


def test_dashscope_stream_usage_chunk_comes_last(srv: FakeServer, oai: openai.OpenAI) -> None:
    srv.queue(dashscope_text(["Hel", "lo"], reasoning=["hmm"], usage=(12, 7), cached=4,
                             reasoning_tokens=2))
    chunks = list(oai.chat.completions.create(
        model="qwen-plus", messages=MSGS, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    assert chunks[1].choices[0].delta.content is None
    assert chunks[1].choices[0].delta.model_extra == {"reasoning_content": "hmm"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-2].usage is None
    last = chunks[-1]
    assert last.choices == [] and last.model == "qwen-plus" and last.object == "chat.completion.chunk"
    assert last.usage is not None and (last.usage.prompt_tokens, last.usage.total_tokens) == (12, 19)
    assert last.usage.prompt_tokens_details and last.usage.prompt_tokens_details.cached_tokens == 4
    assert last.usage.completion_tokens_details.reasoning_tokens == 2
    req = srv.requests[0]
    assert (req.method, req.path) == ("POST", "/compatible-mode/v1/chat/completions")
    assert req.json["stream_options"] == {"include_usage": True} and req.json["messages"] == MSGS
    assert req.headers["authorization"] == "Bearer k"
    assert req.headers["user-agent"].startswith("OpenAI/Python")
    assert srv.pending == 0


def test_dashscope_stream_without_include_usage_has_no_usage(srv: FakeServer, oai: openai.OpenAI) -> None:
    srv.queue(dashscope_text(["a"]))
    chunks = list(oai.chat.completions.create(model="qwen-max", messages=MSGS, stream=True))
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, "stop"]
    assert all(c.usage is None for c in chunks)


def test_dashscope_tool_call_fragments_reassemble_by_index(srv: FakeServer, oai: openai.OpenAI) -> None:
    args0, args1 = '{"location": "杭州"}', '{"city": "Beijing", "unit": "c"}'
    srv.queue(dashscope_tool_calls([("call_a", "get_weather", args0), ("call_b", "get_time", args1)],
                                   text_before="Let me check.", fragment_size=4))
    stream = oai.chat.completions.create(model="qwen-plus", messages=MSGS, stream=True,
                                              stream_options={"include_usage": True})
    calls: dict[int, dict[str, str]] = {}
    text, finish, deltas = "", None, []
    for chunk in stream:
        if not chunk.choices:
            continue
        ch = chunk.choices[0]
        text += ch.delta.content or ""
        finish = ch.finish_reason or finish
        for tc in ch.delta.tool_calls or []:
            deltas.append(tc)
            slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] = tc.id or slot["id"]
            slot["name"] = (tc.function.name if tc.function else None) or slot["name"]
            slot["arguments"] += (tc.function.arguments if tc.function else None) or ""
    assert text == "Let me check." and finish == "tool_calls"
    assert calls == {0: {"id": "call_a", "name": "get_weather", "arguments": args0},
                     1: {"id": "call_b", "name": "get_time", "arguments": args1}}
    later = [d for d in deltas if d.id == ""]
    assert later and all(d.function.name is None for d in later)
    assert {len(d.function.arguments) for d in later} <= {1, 2, 3, 4}
    assert sum(d.id == "call_a" for d in deltas) == 1 and deltas[0].function.arguments == ""


def test_non_streaming_reply_is_built_from_the_script(srv: FakeServer, oai: openai.OpenAI) -> None:
    srv.queue(dashscope_text(["Hel", "lo"], reasoning=["r1", "r2"], finish="length"),
              dashscope_tool_calls([("call_1", "f", '{"x": 1}')]))
    client = oai
    r = client.chat.completions.create(model="qwen-plus", messages=MSGS)
    assert r.object == "chat.completion" and r.model == "qwen-plus"
    assert r.choices[0].message.content == "Hello" and r.choices[0].finish_reason == "length"
    assert r.choices[0].message.model_extra == {"reasoning_content": "r1r2"}
    assert r.usage and r.usage.total_tokens == 15
    r = client.chat.completions.create(model="qwen-plus", messages=MSGS)
    msg = r.choices[0].message
    assert msg.content is None and r.choices[0].finish_reason == "tool_calls"
    assert msg.tool_calls and msg.tool_calls[0].function.arguments == '{"x": 1}'
    assert "stream" not in srv.requests[0].json


def test_zhipu_stream_usage_on_finish_chunk(srv: FakeServer, zp: zhipuai.ZhipuAI) -> None:
    srv.queue(zhipu_text(["你", "好"], reasoning=["想"], usage=(20, 3), cached=8,
                         web_search=[{"title": "t", "link": "https://e.x", "media": "m"}]))
    chunks = list(zp.chat.completions.create(model="glm-4.5", messages=MSGS, stream=True))
    assert all(c.choices and c.choices[0].delta.role == "assistant" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, None, "stop"]
    assert chunks[0].model_extra["web_search"][0]["link"] == "https://e.x"
    assert chunks[0].choices[0].delta.reasoning_content == "想"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "你好"
    assert [c.usage is not None for c in chunks] == [False, False, False, True]
    assert chunks[-1].usage.prompt_tokens == 20 and chunks[-1].usage.total_tokens == 23
    req = srv.requests[0]
    assert req.path == "/api/paas/v4/chat/completions"
    assert req.headers["authorization"] == "Bearer k"
    assert req.headers["zhipuai-sdk-ver"].startswith("v2.1.5")
    assert req.headers["source_type"] == req.headers["x-request-sdk"] == "zhipu-sdk-python"
    assert req.json["response_format"] is None and req.json["thinking"] is None


def test_zhipu_raw_chunks_omit_finish_reason_and_flag_sensitive(srv: FakeServer) -> None:
    srv.queue(zhipu_text(["bad"], finish="sensitive"))
    with urllib.request.urlopen(urllib.request.Request(
            srv.url + "/api/paas/v4/chat/completions", method="POST",
            data=json.dumps({"model": "glm-4", "stream": True}).encode())) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.headers["Transfer-Encoding"] == "chunked"
        events = resp.read().decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    first, final = (json.loads(e.removeprefix("data: ")) for e in (events[0], events[-3]))
    assert "finish_reason" not in first["choices"][0] and "usage" not in first
    assert final["choices"][0]["finish_reason"] == "sensitive" and final["usage"]["total_tokens"] == 15
    assert final["content_filter"] == [{"role": "assistant", "level": 1}]


@pytest.mark.parametrize("same_chunk_finish", [False, True])
def test_zhipu_tool_calls(srv: FakeServer, zp: zhipuai.ZhipuAI, same_chunk_finish: bool) -> None:
    srv.queue(zhipu_tool_calls([("call_1", "f", '{"a": 1}'), ("call_2", "g", "{}")],
                               text_before="ok", same_chunk_finish=same_chunk_finish))
    chunks = list(zp.chat.completions.create(model="glm-4-flash", messages=MSGS, stream=True))
    assert chunks[0].choices[0].delta.content == "ok"
    tcs = [tc for c in chunks for tc in c.choices[0].delta.tool_calls or []]
    assert [(t.index, t.id, t.function.name, t.function.arguments) for t in tcs] == [
        (0, "call_1", "f", '{"a": 1}'), (1, "call_2", "g", "{}")]
    assert len(chunks) == (3 if same_chunk_finish else 4)
    assert chunks[-1].choices[0].finish_reason == "tool_calls" and chunks[-1].usage is not None
    assert bool(chunks[-1].choices[0].delta.tool_calls) == same_chunk_finish


@pytest.mark.parametrize("code,exc,status", [
    ("invalid_api_key", openai.AuthenticationError, 401),
    ("limit_requests", openai.RateLimitError, 429),
    ("Arrearage", openai.BadRequestError, 400),
    ("data_inspection_failed", openai.BadRequestError, 400),
    ("model_not_found", openai.NotFoundError, 404),
    ("invalid_parameter_error", openai.BadRequestError, 400),
])
def test_dashscope_errors_raise_openai_status_errors(srv: FakeServer, oai: openai.OpenAI, code: str, exc: type,
                                                     status: int) -> None:
    srv.queue(dashscope_error(code, headers={"Retry-After": "1"}))
    with pytest.raises(exc) as info:
        oai.chat.completions.create(model="qwen-plus", messages=MSGS)
    e = info.value
    assert e.status_code == status and e.code == code and e.body["code"] == code
    assert e.response.headers["retry-after"] == "1"


@pytest.mark.parametrize("code,exc", [
    ("1000", zerr.APIAuthenticationError), ("1113", zerr.APIReachLimitError),
    ("1301", zerr.APIRequestFailedError), ("1305", zerr.APIReachLimitError),
    ("1211", zerr.APIRequestFailedError), ("1261", zerr.APIRequestFailedError),
])
def test_zhipu_errors_raise_zhipuai_status_errors(srv: FakeServer, zp: zhipuai.ZhipuAI, code: str, exc: type) -> None:
    srv.queue(zhipu_error(code))
    with pytest.raises(exc) as info:
        zp.chat.completions.create(model="glm-4", messages=MSGS, stream=True)
    body = json.loads(info.value.response.text)
    assert body["error"]["code"] == code and code in str(info.value)
    assert ("contentFilter" in body) == (code == "1301")


def test_sse_framed_400_gives_raw_string_body(srv: FakeServer, oai: openai.OpenAI) -> None:
    srv.queue(dashscope_error("invalid_parameter_error", sse=True))
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="qwen-plus", messages=MSGS, stream=True)
    e = info.value
    assert e.code is None and e.message == "Error code: 400"
    assert isinstance(e.body, str) and e.body.startswith("data: ")
    assert json.loads(e.body.removeprefix("data: "))["error"]["code"] == "invalid_parameter_error"
    assert e.response.headers["content-type"].startswith("text/event-stream")


def test_cut_stream_openai_raises_connection_error(srv: FakeServer, oai: openai.OpenAI) -> None:
    srv.queue(cut(dashscope_text(["a", "b", "c"]), 2))
    got = []
    with pytest.raises(openai.APIConnectionError) as info:
        for c in oai.chat.completions.create(model="qwen-plus", messages=MSGS, stream=True):
            got.append(c.choices[0].delta.content)
    assert got == ["", "a"]
    assert type(info.value) is openai.APIConnectionError
    assert "incomplete chunked read" in str(info.value.__cause__)


def test_cut_stream_zhipuai_leaks_raw_httpx_error(srv: FakeServer, zp: zhipuai.ZhipuAI) -> None:
    srv.queue(cut(zhipu_text(["a", "b"]), 1))
    got = []
    with pytest.raises(httpx.RemoteProtocolError):
        for c in zp.chat.completions.create(model="glm-4", messages=MSGS, stream=True):
            got.append(c.choices[0].delta.content)
    assert got == ["a"]


def test_midstream_error(srv: FakeServer, oai: openai.OpenAI, zp: zhipuai.ZhipuAI) -> None:
    srv.queue(midstream_error(dashscope_text(["a", "b"]), 2),
              midstream_error(zhipu_text(["a", "b"]), 1, {"code": "1301", "message": "敏感"}))
    with pytest.raises(openai.APIError) as info:
        list(oai.chat.completions.create(model="qwen-plus", messages=MSGS, stream=True))
    assert type(info.value) is openai.APIError and info.value.code == "data_inspection_failed"
    assert info.value.body["type"] == "data_inspection_failed"
    with pytest.raises(zerr.APIResponseError) as zinfo:
        list(zp.chat.completions.create(model="glm-4", messages=MSGS, stream=True))
    assert zinfo.value.json_data == {"code": "1301", "message": "敏感"}
    assert str(zinfo.value) == "An error occurred during streaming"


def test_empty_queue_answers_500(srv: FakeServer, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError, match="no scripted reply"):
        oai.chat.completions.create(model="qwen-plus", messages=MSGS)


def test_gated_stream_waits_for_gate(srv: FakeServer, oai: openai.OpenAI) -> None:
    gate = threading.Event()
    srv.queue(gated(dashscope_text(["a", "b"]), 2, gate))
    stream = oai.chat.completions.create(model="qwen-plus", messages=MSGS, stream=True)
    assert [next(stream).choices[0].delta.content for _ in range(2)] == ["", "a"]
    assert srv.responses_done == 0
    gate.set()
    assert [c.choices[0].delta.content for c in stream] == ["b", ""]
    srv.wait_responses(1)


def test_stop_releases_gates_and_hangs_quickly() -> None:
    gate, first, results = threading.Event(), threading.Event(), []
    srv = FakeServer().start()
    srv.queue(gated(dashscope_text(["a"]), 1, gate), hang())
    client = make_oai(srv)

    def consume() -> None:
        try:
            for _ in client.chat.completions.create(model="q", messages=MSGS, stream=True):
                first.set()
        except openai.APIConnectionError as e:
            results.append(type(e))

    threads = [threading.Thread(target=consume) for _ in range(2)]
    for t in threads:
        t.start()
    srv.wait_requests(2)
    assert first.wait(2)  # the gated reply has sent its first event and is at the gate
    t0 = time.monotonic()
    srv.stop()
    for t in threads:
        t.join(2)
    assert time.monotonic() - t0 < 1 and gate.is_set()
    assert results == [openai.APIConnectionError] * 2


def test_hang_times_out_client_and_close_immediately() -> None:
    with FakeServer() as srv:  # own server: the hung handler lives until stop()
        srv.queue(hang(), close_immediately())
        client = make_oai(srv, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="q", messages=MSGS)
        with pytest.raises(openai.APIConnectionError) as info:
            client.chat.completions.create(model="q", messages=MSGS)
        assert type(info.value) is openai.APIConnectionError
        assert srv.wait_requests(2)[1].json["model"] == "q"


def test_slow_stream_and_client_abort_are_quiet(srv: FakeServer, oai: openai.OpenAI) -> None:
    srv.queue(slow(dashscope_text(["a", "b"]), 0.02), slow(dashscope_text(list("abcdefgh")), 0.02))
    client = oai
    t0 = time.monotonic()
    assert len(list(client.chat.completions.create(model="q", messages=MSGS, stream=True))) == 4
    assert time.monotonic() - t0 >= 0.09  # 5 events of 0.02 s, incl. [DONE]
    stream = client.chat.completions.create(model="q", messages=MSGS, stream=True)
    next(stream)
    stream.close()  # the server's next writes hit a closed socket; errors must stay silent
    srv.wait_responses(2)


def test_route_wait_requests_and_reset(srv: FakeServer) -> None:
    srv.route("/weather", lambda req: json_reply({"city": req.query["city"][0], "temp": 21}))
    with urllib.request.urlopen(srv.url + "/v1/weather?city=Hangzhou") as resp:
        assert json.load(resp) == {"city": "Hangzhou", "temp": 21}
    assert srv.wait_requests(1)[0].method == "GET" and srv.requests[0].json is None
    with pytest.raises(TimeoutError):
        srv.wait_requests(2, timeout=0.05)
    srv.queue(error(503, "busy"))
    srv.reset()
    assert srv.requests == [] and srv.pending == 0
