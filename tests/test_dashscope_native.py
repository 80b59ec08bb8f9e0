"""kind = "dashscope": the native protocol over httpx, against the loopback server.

The real program runs where it shows something only the program shows (output, exit codes, what
went over the wire from a whole `chat ask`); the wire variants run the real provider in-process.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatcli.config import load_config
from chatcli.core.messages import (
    ChatRequest,
    Event,
    Message,
    ReasoningDelta,
    Sources,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
)
from chatcli.core.options import GenerationOptions
from chatcli.errors import ProviderError
from chatcli.providers.native import native_messages, sse_events
from chatcli.providers.registry import create_provider
from chatcli.ui.lines import source_lines
from tests.conftest import DASHSCOPE_KEY
from tests.fake_dashscope import MULTIMODAL_PATH, TEXT_PATH, NativeReply, NativeService, native_error
from tests.fakeserver import json_reply
from tests.test_attachments import PNG, PNG_URL

SEARCH = [{"index": 1, "title": "杭州天气预报", "url": "https://weather.example/hz", "site_name": "天气网",
           "icon": "https://weather.example/i.png"},
          {"index": 2, "title": "Hangzhou", "url": "https://wiki.example/Hangzhou", "site_name": "Wiki"}]


@pytest.fixture
def native(chat, server):
    with chat.config.open("a") as f:
        f.write(f'\n[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    return NativeService(server)


@pytest.fixture
def provider(chat, native, monkeypatch):
    """One provider object of kind dashscope, in-process, against the loopback server."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", chat.env["DASHSCOPE_API_KEY"])
    return create_provider(load_config(str(chat.config)).provider("dashscope"))


def events(provider, model: str = "qwen-plus", content: Any = "hi", **kw: Any) -> list[Event]:
    return list(provider.stream(ChatRequest([Message("user", content)], model, **kw)))


def text(evs: list[Event]) -> str:
    return "".join(e.text for e in evs if isinstance(e, TextDelta))


def paths(native: NativeService) -> list[str]:
    return [r.path for r in native.requests]


# --- the real program ----------------------------------------------------------------------------

def test_streamed_text_incremental(chat, native):
    native.queue(NativeReply(["我是", "通义", "千问"], reasoning=["想", "一想"], usage=(22, 3)))
    proc = chat.run("ask", "-p", "dashscope", "--json", "--no-tools", "你是谁")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["content"] == "我是通义千问" and data["reasoning"] == "想一想"
    assert data["usage"] == {"prompt_tokens": 22, "completion_tokens": 3, "total_tokens": 25}
    (req,) = native.requests
    assert req.path == TEXT_PATH
    assert req.headers["authorization"] == f"Bearer {DASHSCOPE_KEY}"
    assert req.headers["x-dashscope-sse"] == "enable"
    assert req.json["model"] == "qwen-plus"
    assert req.json["input"] == {"messages": [{"role": "user", "content": "你是谁"}]}
    assert req.json["parameters"] == {"result_format": "message", "incremental_output": True}


def test_parallel_tool_calls_in_incremental_output(chat, native, server):
    server.route("/v1/search", lambda r: json_reply({"results": [
        {"name": "杭州", "latitude": 30.3, "longitude": 120.2, "country": "中国", "admin1": "浙江"}]}))
    server.route("/v1/forecast", lambda r: json_reply({"current": {
        "time": "2026-11-21T14:00", "temperature_2m": 18.5, "relative_humidity_2m": 60,
        "apparent_temperature": 17.0, "weather_code": 0, "wind_speed_10m": 5.0}}))
    native.queue(NativeReply(calls=[("call_9", "get_current_weather", '{"location": "杭州"}'),
                                    ("call_10", "get_current_time", '{"timezone": "Asia/Shanghai"}')],
                             finish="tool_calls"),
                 NativeReply(["杭州", "晴天"]))
    proc = chat.run("ask", "-p", "dashscope", "杭州天气")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "杭州晴天\n"
    first, second = native.requests
    assert first.json["parameters"]["incremental_output"] is True  # tools included, as the SDK asks
    tools = first.json["parameters"]["tools"]
    assert [t["function"]["name"] for t in tools] == ["get_current_time", "get_current_weather"]
    messages = second.json["input"]["messages"]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in messages[1]["tool_calls"]] == [
        ("call_9", "get_current_weather", '{"location": "杭州"}'),
        ("call_10", "get_current_time", '{"timezone": "Asia/Shanghai"}')]
    assert [(m["role"], m["tool_call_id"]) for m in messages[2:4]] == [("tool", "call_9"), ("tool", "call_10")]
    assert "18.5" in messages[2]["content"]


def test_image_and_video_on_the_multimodal_endpoint(chat, native, tmp_path):
    (tmp_path / "tiny.png").write_bytes(PNG)
    native.queue(NativeReply(["一个", "像素"]))
    proc = chat.run("ask", "-p", "dashscope", "-m", "qwen-vl-plus", "--image", str(tmp_path / "tiny.png"),
                    "--video", "https://img.example/1.jpg", "--video", "https://img.example/2.jpg", "这是什么?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "一个像素\n"  # the answer's content is a list of {"text"} parts there
    (req,) = native.requests
    assert req.path == MULTIMODAL_PATH
    assert req.json["input"]["messages"] == [{"role": "user", "content": [
        {"image": PNG_URL}, {"video": ["https://img.example/1.jpg", "https://img.example/2.jpg"]},
        {"text": "这是什么?"}]}]
    proc = chat.run("ask", "-p", "dashscope", "--image", str(tmp_path / "tiny.png"), "what?")
    assert proc.returncode == 2 and len(native.requests) == 1
    assert "qwen-plus takes no images" in proc.stderr and "-m qwen-vl-plus" in proc.stderr


def test_search_sources_and_usage_details(chat, native):
    native.queue(NativeReply(["杭州今天晴。"], search=SEARCH, reasoning_tokens=7, cached_tokens=4, usage=(30, 9)))
    proc = chat.run("ask", "-p", "dashscope", "--no-tools", "--search", "--json", "杭州天气")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["content"] == "杭州今天晴。"
    assert [(s["title"], s["link"], s["media"]) for s in data["sources"]] == [
        ("杭州天气预报", "https://weather.example/hz", "天气网"), ("Hangzhou", "https://wiki.example/Hangzhou", "Wiki")]
    assert data["usage"] == {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39, "cached_tokens": 4,
                             "reasoning_tokens": 7}
    assert native.requests[0].json["parameters"]["enable_search"] is True


def test_non_streaming(chat, native):
    native.queue(NativeReply(["whole ", "text"]))
    proc = chat.run("ask", "-p", "dashscope", "--no-stream", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "whole text\n"
    assert "x-dashscope-sse" not in native.requests[0].headers
    assert "incremental_output" not in native.requests[0].json["parameters"]


@pytest.mark.parametrize("code, exit_code, needle", [
    ("InvalidApiKey", 3, "DASHSCOPE_API_KEY"),
    ("Arrearage", 4, "arrears"),
    ("InvalidParameter", 1, "model 'qwen-plus' not found"),
])
def test_errors(chat, native, code, exit_code, needle):
    native.queue(native_error(code))
    proc = chat.run("ask", "-p", "dashscope", "hi")
    assert proc.returncode == exit_code
    assert needle in proc.stderr and len(native.requests) == 1
    assert len(proc.stderr.strip().splitlines()) == 1


def test_throttling_is_retried(chat, native):
    native.queue(native_error("Throttling.RateQuota", headers={"Retry-After": "0"}), NativeReply(["ok"]))
    proc = chat.run("ask", "-p", "dashscope", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n" and len(native.requests) == 2


def test_midstream_error_and_cut(chat, native):
    native.queue(NativeReply(["部分", "回答", "never"], error_after=(2, "DataInspectionFailed")))
    proc = chat.run("ask", "-p", "dashscope", "--no-tools", "hi")
    assert proc.returncode == 1
    assert proc.stdout == "部分回答\n"
    assert "content filter" in proc.stderr
    native.queue(NativeReply(["first ", "second ", "third"], cut_after=2))
    proc = chat.run("ask", "-p", "dashscope", "--no-tools", "hi")
    assert proc.returncode == 5
    assert proc.stdout == "first second \n"
    assert "connection lost" in proc.stderr


# --- the SSE framing -----------------------------------------------------------------------------

def test_every_data_line_is_one_event():
    compact = ["id:1", "event:result", ":HTTP_STATUS/200", 'data:{"a":1}', "id:2", "event:error",
               ":HTTP_STATUS/400", 'data:{"b":2}']
    assert list(sse_events(compact)) == [(200, "result", '{"a":1}'), (400, "error", '{"b":2}')]
    framed = ["id:1", "event:result", ":HTTP_STATUS/200", "data: {\"a\":1}", "", "data:{\"c\":3}", ""]
    assert list(sse_events(framed)) == [(200, "result", '{"a":1}'), (None, None, '{"c":3}')]


@pytest.mark.parametrize("blank_lines", [False, True], ids=["back-to-back", "blank-lines"])
def test_both_framings(provider, native, blank_lines):
    native.queue(NativeReply(["我是", "通义", "千问"], reasoning=["想"], blank_lines=blank_lines))
    evs = events(provider)
    assert text(evs) == "我是通义千问" and [e.text for e in evs if isinstance(e, ReasoningDelta)] == ["想"]
    native.queue(NativeReply(["部分", "never"], error_after=(1, "DataInspectionFailed"), blank_lines=blank_lines))
    with pytest.raises(ProviderError, match="content filter"):
        events(provider)


def test_whole_text_repeated_in_incremental_output(provider, native):
    native.queue(NativeReply(["我是", "通义", "千问"], repeat_text=True, reasoning=["想"]))
    evs = events(provider)
    assert [e.text for e in evs if isinstance(e, TextDelta)] == ["我是", "通义", "千问"]


def test_parallel_calls_merge_by_index(provider, native):
    native.queue(NativeReply(calls=[("call_a", "get_current_weather", '{"location": "杭州市西湖区"}'),
                                    ("call_b", "get_current_time", "{}")], finish="tool_calls"))
    calls = [e.call for e in events(provider, tools=[{"type": "function"}]) if isinstance(e, ToolCallEvent)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "get_current_weather", '{"location": "杭州市西湖区"}'), ("call_b", "get_current_time", "{}")]
    native.queue(NativeReply(calls=[("call_c", "get_current_time", '{"timezone": "UTC"}')], finish="tool_calls"))
    calls = [e.call for e in events(provider, stream=False) if isinstance(e, ToolCallEvent)]
    assert [(c.id, c.arguments) for c in calls] == [("call_c", '{"timezone": "UTC"}')]


# --- endpoints -----------------------------------------------------------------------------------

@pytest.mark.parametrize("sse", [False, True], ids=["400", "sse-error"])
def test_url_error_tries_the_other_endpoint_once_and_remembers(provider, native, sse):
    native.url_error_sse = sse
    native.bind("qwen-newvision", "multimodal")  # a model the catalog does not know
    native.queue(NativeReply(["one"]), NativeReply(["two"]))
    assert text(events(provider, "qwen-newvision")) == "one"
    assert text(events(provider, "qwen-newvision")) == "two"
    assert paths(native) == [TEXT_PATH, MULTIMODAL_PATH, MULTIMODAL_PATH]
    assert native.requests[1].json["input"]["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


def test_catalog_routes_and_a_url_error_on_both_is_the_error(provider, native):
    native.queue(NativeReply(["vl"]), NativeReply(["3.5"]))
    assert text(events(provider, "qwen2.5-vl-72b-instruct")) == "vl"
    assert text(events(provider, "qwen3.5-plus")) == "3.5"
    assert paths(native) == [MULTIMODAL_PATH, MULTIMODAL_PATH]
    native.bind("qwen-nowhere", "elsewhere")
    with pytest.raises(ProviderError, match="url error"):
        events(provider, "qwen-nowhere")
    assert paths(native)[2:] == [TEXT_PATH, MULTIMODAL_PATH]


def test_openai_style_parts_become_native_parts():
    parts = [{"type": "image_url", "image_url": {"url": "https://img.example/a.png"}},
             {"type": "video", "video": ["f1.jpg", "f2.jpg"]}, {"type": "text", "text": "看"}]
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": parts},
                {"role": "assistant", "content": ""}]
    assert native_messages(messages, "multimodal") == [
        {"role": "system", "content": [{"text": "be brief"}]},
        {"role": "user", "content": [{"image": "https://img.example/a.png"}, {"video": ["f1.jpg", "f2.jpg"]},
                                     {"text": "看"}]},
        {"role": "assistant", "content": ""}]
    text_only = [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
    assert native_messages(text_only, "text") == [{"role": "user", "content": "a\nb"}]


def test_capabilities_follow_the_catalog(provider):
    assert provider.capabilities("qwen-vl-max").images == 10 * 1024 * 1024
    assert provider.capabilities("qwen3.5-plus").video is True
    assert "qwen-plus takes no images" in str(provider.capabilities("qwen-plus").images)


# --- sources and usage ---------------------------------------------------------------------------

def test_search_sources_list_like_zhipus(provider, native):
    native.queue(NativeReply(["晴"], search=SEARCH))
    (sources,) = [e for e in events(provider, generation=GenerationOptions(search=True)) if isinstance(e, Sources)]
    assert native.requests[-1].json["parameters"]["search_options"] == {"enable_source": True}
    assert source_lines(sources) == ["Sources:", "1. 杭州天气预报 — https://weather.example/hz",
                                     "2. Hangzhou — https://wiki.example/Hangzhou"]


def test_usage_details_whole_and_streamed(provider, native):
    native.queue(NativeReply(["a"], reasoning_tokens=3, cached_tokens=2),
                 NativeReply(["b"], reasoning_tokens=5))
    (whole,) = [e.usage for e in events(provider, stream=False) if isinstance(e, UsageEvent)]
    (streamed,) = [e.usage for e in events(provider) if isinstance(e, UsageEvent)]
    assert (whole.reasoning_tokens, whole.cached_tokens) == (3, 2)
    assert (streamed.reasoning_tokens, streamed.cached_tokens) == (5, None)


def test_repeats_are_told_from_equal_pieces():
    from chatcli.providers.native import NativeAssembler

    def fed(*pieces: str) -> list[str]:
        asm = NativeAssembler()
        return [e.text for p in pieces for e in asm.feed(
            {"output": {"choices": [{"message": {"content": p}, "finish_reason": "null"}]}}) if isinstance(e, TextDelta)]

    assert fed("ab", "ab", "ab") == ["ab", "ab", "ab"]  # equal pieces are new text until a repeat was seen
    assert fed("我是", "我是通义", "我是通义") == ["我是", "通义"]  # then the whole text again adds nothing
    assert fed("a", "b", "abc") == ["a", "b", "c"]
