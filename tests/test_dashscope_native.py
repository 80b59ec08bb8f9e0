"""kind = "dashscope": the native protocol over httpx, against the loopback server."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DASHSCOPE_KEY
from tests.fake_dashscope import NativeReply, NativeService, native_error
from tests.fakeserver import json_reply


@pytest.fixture
def native(chat, server):
    with chat.config.open("a") as f:
        f.write(f'\n[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    return NativeService(server)


def test_streamed_text_incremental(chat, native):
    native.queue(NativeReply(["我是", "通义", "千问"], reasoning=["想", "一想"], usage=(22, 3)))
    proc = chat.run("ask", "-p", "dashscope", "--json", "--no-tools", "你是谁")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["content"] == "我是通义千问" and data["reasoning"] == "想一想"
    assert data["usage"] == {"prompt_tokens": 22, "completion_tokens": 3, "total_tokens": 25}
    (req,) = native.requests
    assert req.headers["authorization"] == f"Bearer {DASHSCOPE_KEY}"
    assert req.headers["x-dashscope-sse"] == "enable"
    assert req.json["model"] == "qwen-plus"
    assert req.json["input"] == {"messages": [{"role": "user", "content": "你是谁"}]}
    assert req.json["parameters"] == {"result_format": "message", "incremental_output": True}


def test_tools_use_cumulative_output(chat, native, server):
    server.route("/v1/search", lambda r: json_reply({"results": [
        {"name": "杭州", "latitude": 30.3, "longitude": 120.2, "country": "中国", "admin1": "浙江"}]}))
    server.route("/v1/forecast", lambda r: json_reply({"current": {
        "time": "2026-11-21T14:00", "temperature_2m": 18.5, "relative_humidity_2m": 60,
        "apparent_temperature": 17.0, "weather_code": 0, "wind_speed_10m": 5.0}}))
    native.queue(NativeReply(calls=[("call_9", "get_current_weather", '{"location": "杭州"}')], finish="tool_calls"),
                 NativeReply(["杭州", "晴天"]))
    proc = chat.run("ask", "-p", "dashscope", "杭州天气")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "杭州晴天"
    first, second = native.requests
    assert first.json["parameters"]["incremental_output"] is False
    tools = first.json["parameters"]["tools"]
    assert [t["function"]["name"] for t in tools] == ["get_current_time", "get_current_weather"]
    messages = second.json["input"]["messages"]
    assert messages[1]["tool_calls"][0]["function"]["arguments"] == '{"location": "杭州"}'
    assert messages[2]["role"] == "tool" and messages[2]["tool_call_id"] == "call_9"
    assert "18.5" in messages[2]["content"]


def test_non_streaming(chat, native):
    native.queue(NativeReply(["whole ", "text"]))
    proc = chat.run("ask", "-p", "dashscope", "--no-stream", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "whole text"
    assert "x-dashscope-sse" not in native.requests[0].headers


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
    assert proc.stdout == "ok" and len(native.requests) == 2


def test_midstream_error_and_cut(chat, native):
    native.queue(NativeReply(["部分", "回答", "never"], error_after=(2, "DataInspectionFailed")))
    proc = chat.run("ask", "-p", "dashscope", "--no-tools", "hi")
    assert proc.returncode == 1
    assert proc.stdout == "部分回答"
    assert "content filter" in proc.stderr
    native.queue(NativeReply(["first ", "second ", "third"], cut_after=2))
    proc = chat.run("ask", "-p", "dashscope", "--no-tools", "hi")
    assert proc.returncode == 5
    assert proc.stdout == "first second "
    assert "connection lost" in proc.stderr
