"""The tool loop end to end: real SDKs, the loopback provider, a loopback weather service."""

from __future__ import annotations

import json
import sys
import threading

import pexpect
import pytest

from tests import fakeserver as fs
from tests.fakeserver import completions

PLACES = {
    "杭州": {"name": "杭州市", "latitude": 30.29, "longitude": 120.16, "country": "中国", "admin1": "浙江省",
             "timezone": "Asia/Shanghai"},
    "北京": {"name": "北京市", "latitude": 39.91, "longitude": 116.40, "country": "中国", "admin1": "北京市",
             "timezone": "Asia/Shanghai"},
}


def weather_routes(server, barrier: threading.Barrier | None = None, forecast=None):
    def geocode(req):
        if barrier is not None:
            barrier.wait()
        name = req.query["name"][0]
        place = PLACES.get(name) or PLACES.get(name.rstrip("市"))
        return fs.json_reply({"results": [place]} if place else {"generationtime_ms": 0.1})

    def current(req):
        lat = float(req.query["latitude"][0])
        return fs.json_reply({
            "current_units": {"temperature_2m": "°C", "apparent_temperature": "°C"},
            "current": {"time": "2026-11-21T14:00", "temperature_2m": 18.5 if lat < 35 else 6.0,
                        "relative_humidity_2m": 60, "apparent_temperature": 17.0, "weather_code": 3,
                        "wind_speed_10m": 9.4},
        })

    server.route("/v1/search", geocode)
    server.route("/v1/forecast", forecast or current)


@pytest.fixture
def tchat(chat):
    return chat  # conftest points [tools.weather] at the loopback server


def tool_messages(req):
    return [m for m in req.json["messages"] if m["role"] == "tool"]


def test_dashscope_split_arguments_loop(tchat, server):
    weather_routes(server)
    server.queue(fs.dashscope_tool_calls([("call_1", "get_current_weather", '{"location": "杭州市"}')], fragment_size=4),
                 fs.dashscope_text(["杭州现在阴，18.5°C。"]))
    proc = tchat.run("ask", "杭州天气怎么样")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "杭州现在阴，18.5°C。\n"
    assert proc.stderr == ""  # stderr is not a terminal: no progress lines
    first, second = completions(server)
    names = [t["function"]["name"] for t in first.json["tools"]]
    assert names == ["get_current_time", "get_current_weather"]
    assert first.json["tools"][1]["function"]["parameters"]["required"] == ["location"]
    assert second.json["tools"] == first.json["tools"]  # tools on every round
    assistant = second.json["messages"][-2]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"] == [{"id": "call_1", "type": "function",
                                        "function": {"name": "get_current_weather", "arguments": '{"location": "杭州市"}'}}]
    (tool,) = tool_messages(second)
    assert tool["tool_call_id"] == "call_1" and tool["name"] == "get_current_weather"
    result = json.loads(tool["content"])
    assert "error" not in result, result
    assert "18.5" in tool["content"] and "杭州" in tool["content"]
    geo = [r for r in server.requests if r.path.startswith("/v1/search")]
    assert geo[0].query["language"] == ["zh"]


def test_zhipu_two_parallel_calls(tchat, server):
    barrier = threading.Barrier(2, timeout=5)  # both geocoding requests must be in flight at once
    weather_routes(server, barrier=barrier)
    server.queue(fs.zhipu_tool_calls([("c_hz", "get_current_weather", '{"location": "杭州"}'),
                                      ("c_bj", "get_current_weather", '{"location": "北京"}')],
                                     text_before="我来查一下。"),
                 fs.zhipu_text(["杭州18.5°C，北京6°C。"]))
    proc = tchat.run("ask", "-p", "zhipu", "--json", "杭州和北京天气")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["content"] == "我来查一下。\n\n杭州18.5°C，北京6°C。"
    assert [c["id"] for c in data["tool_calls"]] == ["c_hz", "c_bj"]
    assert all(c["ok"] for c in data["tool_calls"]), data["tool_calls"]
    assert data["tool_rounds"] == 1
    assert data["usage"]["prompt_tokens"] == 20  # summed over both calls
    second = completions(server)[1]
    tools = tool_messages(second)
    assert [t["tool_call_id"] for t in tools] == ["c_hz", "c_bj"]  # the model's order, not completion order
    assert "18.5" in tools[0]["content"] and "6.0" in tools[1]["content"]
    assert second.json["messages"][-3]["content"] == "我来查一下。"


def test_zhipu_call_and_finish_in_one_chunk(tchat, server):
    server.queue(fs.zhipu_tool_calls([("t1", "get_current_time", '{"timezone": "Asia/Shanghai"}')], same_chunk_finish=True),
                 fs.zhipu_text(["现在是下午。"]))
    proc = tchat.run("ask", "-p", "zhipu", "几点了")
    assert proc.returncode == 0, proc.stderr
    (tool,) = tool_messages(completions(server)[1])
    result = json.loads(tool["content"])
    assert result["timezone"] == "Asia/Shanghai"
    assert len(result["datetime"]) == len("2026-11-21 14:00:00")


@pytest.mark.parametrize("call, expect", [
    (("x1", "get_current_weather", '{"location": "Xyzzy"}'), "Xyzzy"),
    (("x2", "get_current_weather", '{"location": "杭州"'), "not valid JSON"),
    (("x3", "get_current_weather", '{"city": "杭州"}'), "missing required argument 'location'"),
    (("x4", "get_current_weather", '{"location": "杭州", "unit": "kelvin"}'), "must be one of"),
    (("x5", "launch_rockets", "{}"), "unknown tool 'launch_rockets'"),
])
def test_bad_calls_go_back_to_the_model(tchat, server, call, expect):
    weather_routes(server)
    server.queue(fs.dashscope_tool_calls([call]), fs.dashscope_text(["sorry"]))
    proc = tchat.run("ask", "--json", "weather")
    assert proc.returncode == 0, proc.stderr
    (tool,) = tool_messages(completions(server)[1])
    assert expect in json.loads(tool["content"])["error"]
    data = json.loads(proc.stdout)
    assert data["content"] == "sorry" and data["tool_calls"][0]["ok"] is False


def test_weather_service_down(tchat, server):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tchat.config.write_text(tchat.config.read_text().replace(f"{server.url}/v1/search", f"http://127.0.0.1:{port}/v1/search"))
    server.queue(fs.dashscope_tool_calls([("w", "get_current_weather", '{"location": "杭州"}')]),
                 fs.dashscope_text(["the weather service is down"]))
    proc = tchat.run("ask", "weather")
    assert proc.returncode == 0, proc.stderr
    (tool,) = tool_messages(completions(server)[1])
    assert "error" in json.loads(tool["content"])


def test_tool_timeout(tchat, server):
    gate = threading.Event()

    def stuck(req):
        gate.wait(10)
        return fs.json_reply({})
    server.route("/v1/search", stuck)
    text = tchat.config.read_text().replace("[tools.weather]", "[tools]\ntimeout = 0.5\n\n[tools.weather]")
    tchat.config.write_text(text.replace("timeout = 2", "timeout = 5"))
    server.queue(fs.dashscope_tool_calls([("w", "get_current_weather", '{"location": "杭州"}')]),
                 fs.dashscope_text(["too slow"]))
    try:
        proc = tchat.run("ask", "weather")
    finally:
        gate.set()
    assert proc.returncode == 0, proc.stderr
    (tool,) = tool_messages(completions(server)[1])
    assert "timed out after 0.5 s" in json.loads(tool["content"])["error"]


def test_model_that_never_stops_calling(tchat, server):
    text = tchat.config.read_text().replace("[tools.weather]", "[tools]\nmax_rounds = 2\n\n[tools.weather]")
    tchat.config.write_text(text)
    for i in range(3):
        server.queue(fs.dashscope_tool_calls([(f"t{i}", "get_current_time", "{}")], text_before=f"round {i}. "))
    proc = tchat.run("ask", "loop")
    assert proc.returncode == 0
    assert len(completions(server)) == 3
    assert proc.stdout == "round 0. \n\nround 1. \n\nround 2. \n"
    assert "stopped after 2 rounds of tool calls" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_no_tools_flag_and_config(tchat, server):
    server.queue(fs.dashscope_text(["a"]), fs.dashscope_text(["b"]))
    assert tchat.run("ask", "--no-tools", "hi").returncode == 0
    tchat.config.write_text(tchat.config.read_text() + "\n[tools]\nenabled = false\n")
    assert tchat.run("ask", "hi").returncode == 0
    assert all("tools" not in r.json for r in completions(server))


def test_bad_tools_config(tchat, server):
    tchat.config.write_text(tchat.config.read_text() + "\n[tools]\nmax_round = 3\n")
    proc = tchat.run("ask", "hi")
    assert proc.returncode == 2
    assert "unknown key 'max_round' in [tools] (did you mean 'max_rounds'?)" in proc.stderr


def test_chat_tools_lists_parameters(tchat):
    proc = tchat.run("tools")
    assert proc.returncode == 0, proc.stderr
    assert "get_current_time" in proc.stdout and "get_current_weather" in proc.stdout
    assert "location: string (required)" in proc.stdout
    assert "unit: celsius | fahrenheit (optional, default celsius)" in proc.stdout


def test_tool_lines_in_a_terminal(tchat, server):
    weather_routes(server)
    server.queue(fs.dashscope_tool_calls([("w", "get_current_weather", '{"location": "杭州"}')]),
                 fs.dashscope_text(["阴天。"]))
    child = pexpect.spawn(sys.executable, ["-m", "chatcli", "ask", "天气"], env=tchat.env, encoding="utf-8",
                          dimensions=(24, 120), timeout=20)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    out = child.before
    assert "\x1b[2m⚙ get_current_weather(location=\"杭州\") → " in out
    assert out.rstrip().endswith("阴天。")
