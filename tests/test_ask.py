"""`chat ask` end to end: the real CLI process, the real SDKs, the loopback server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import pytest

from tests import fakeserver as fs
from tests.conftest import DASHSCOPE_KEY, ZHIPU_KEY
from tests.fakeserver import completions


def one_line_error(proc, *needles):
    """stderr is exactly one line, has every needle, and no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("chat: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in proc.stderr
    return lines[0]


# --- streaming text, both providers -------------------------------------------------------

def test_dashscope_stream_to_pipe_is_exact_text(chat, server):
    server.queue(fs.dashscope_text(["你好", "，", "world", "!\n\nbye"]))
    proc = chat.run("ask", "你好")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "你好，world!\n\nbye\n"
    assert proc.stderr == ""
    (req,) = completions(server)
    assert req.path == "/compatible-mode/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {DASHSCOPE_KEY}"
    assert req.json["model"] == "qwen-plus"
    assert req.json["stream"] is True
    assert req.json["stream_options"] == {"include_usage": True}
    assert req.json["messages"] == [{"role": "user", "content": "你好"}]


def test_zhipu_stream_uses_zhipuai_sdk(chat, server):
    server.queue(fs.zhipu_text(["GLM", " says ", "hi"]))
    proc = chat.run("ask", "-p", "zhipu", "你好")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "GLM says hi\n"
    (req,) = completions(server)
    assert req.path == "/api/paas/v4/chat/completions"
    assert req.headers["authorization"] == f"Bearer {ZHIPU_KEY}"
    assert any(h.startswith("zhipuai") for h in req.headers), req.headers
    assert req.json["model"] == "glm-4-plus"
    assert "stream_options" not in req.json


def test_model_and_system_flags(chat, server):
    server.queue(fs.dashscope_text(["ok"]))
    proc = chat.run("ask", "-m", "qwen-max", "-s", "Be terse.", "what", "is", "2+2")
    assert proc.returncode == 0, proc.stderr
    req = completions(server)[0]
    assert req.json["model"] == "qwen-max"
    assert req.json["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "what is 2+2"},
    ]


def test_no_stream(chat, server):
    server.queue(fs.dashscope_text(["whole ", "answer"]))
    proc = chat.run("ask", "--no-stream", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "whole answer\n"
    assert completions(server)[0].json["stream"] is False


def test_custom_provider_without_key(chat, server):
    server.queue(fs.dashscope_text(["local"]))
    proc = chat.run("ask", "-p", "local", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "local\n"
    assert completions(server)[0].json["model"] == "llama-test"


# --- --json ------------------------------------------------------------------------------

def test_json_dashscope_usage_from_usage_only_chunk(chat, server):
    server.queue(fs.dashscope_text(["a", "b"], reasoning=["think", "ing"], usage=(12, 7), reasoning_tokens=3))
    proc = chat.run("ask", "--json", "hi")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == {
        "provider": "qwen", "model": "qwen-plus", "content": "ab", "reasoning": "thinking",
        "tool_calls": [], "finish_reason": "stop", "tool_rounds": 0,
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19, "reasoning_tokens": 3},
    }


def test_json_zhipu_usage_on_finish_chunk(chat, server):
    server.queue(fs.zhipu_text(["x"], usage=(4, 2), cached=1))
    data = json.loads(chat.run("ask", "-p", "zhipu", "--json", "hi").stdout)
    assert data["content"] == "x"
    assert data["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6, "cached_tokens": 1}


def test_json_tool_calls_merged_by_index(chat, server):
    server.queue(fs.dashscope_tool_calls([("call_a", "get_current_weather", '{"location": "杭州"}'),
                                          ("call_b", "get_current_time", "{}")]))
    data = json.loads(chat.run("ask", "--json", "--no-tools", "weather?").stdout)
    assert data["finish_reason"] == "tool_calls"
    assert data["tool_calls"] == [
        {"id": "call_a", "name": "get_current_weather", "arguments": '{"location": "杭州"}'},
        {"id": "call_b", "name": "get_current_time", "arguments": "{}"},
    ]


def test_json_keeps_partial_answer_on_error(chat, server):
    server.queue(fs.cut(fs.dashscope_text(["part one ", "part two ", "never"]), after=3))
    proc = chat.run("ask", "--json", "hi")
    assert proc.returncode == 5
    data = json.loads(proc.stdout)
    assert data["content"] == "part one part two "
    assert data["error"]["type"] == "NetworkError"
    one_line_error(proc, "qwen", "connection lost")


# --- piping ------------------------------------------------------------------------------

def test_pipe_with_prompt_adds_fenced_context(chat, server):
    server.queue(fs.dashscope_text(["reviewed"]))
    diff = "diff --git a/x b/x\n+```python\n+print(1)\n+```\n"
    proc = chat.run("ask", "review this", input=diff)
    assert proc.returncode == 0, proc.stderr
    msg = completions(server)[0].json["messages"][-1]["content"]
    assert msg.startswith("review this\n\n````\n")
    assert msg.endswith("\n````")
    assert diff in msg


def test_pipe_without_prompt_is_the_message(chat, server):
    server.queue(fs.dashscope_text(["总结"]))
    proc = chat.run("ask", input="第一行\n第二行\n")
    assert proc.returncode == 0, proc.stderr
    assert completions(server)[0].json["messages"][-1]["content"] == "第一行\n第二行\n"


def test_gbk_stdin_is_decoded(chat, server):
    server.queue(fs.dashscope_text(["ok"]))
    proc = chat.run("ask", "翻译", input="中文内容".encode("gbk"))
    assert proc.returncode == 0, proc.stderr
    assert "中文内容" in completions(server)[0].json["messages"][-1]["content"]


def test_nothing_to_ask_is_usage_error(chat, server):
    proc = chat.run("ask", input=b"")
    assert proc.returncode == 2
    one_line_error(proc, "nothing to ask")
    assert server.requests == []


def test_binary_stdin_refused(chat, server):
    proc = chat.run("ask", "what is this", input=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert proc.returncode == 2
    one_line_error(proc, "binary")
    assert server.requests == []


def test_huge_stdin_refused_with_size(chat, server):
    proc = chat.run("ask", "summarise", input=b"a" * (3 * 1024 * 1024))
    assert proc.returncode == 2
    one_line_error(proc, "too large", "3.0 MB", "1.0 MB")
    assert server.requests == []


# --- untrusted output ------------------------------------------------------------------------

def test_control_sequences_stripped(chat, server):
    server.queue(fs.dashscope_text(["safe \x1b[", "31mred\x1b[0m \x1b]0;title\x07[bold]x[/bold]\r\n"]))
    proc = chat.run("ask", "hi")
    assert proc.stdout == "safe red [bold]x[/bold]\n"


# --- finish reasons ------------------------------------------------------------------------

def test_length_finish_is_a_notice(chat, server):
    server.queue(fs.dashscope_text(["cut sh"], finish="length"))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 0
    assert proc.stdout == "cut sh\n"
    one_line_error(proc, "token limit", "length")


def test_sensitive_finish_fails_and_says_so(chat, server):
    server.queue(fs.zhipu_text(["some text"], finish="sensitive", content_filter=[{"role": "assistant", "level": 1}]))
    proc = chat.run("ask", "-p", "zhipu", "hi")
    assert proc.returncode == 1
    assert proc.stdout == "some text\n"
    one_line_error(proc, "zhipu", "safety review", "sensitive")


# --- errors: one line, the right exit code, the right number of attempts ---------------------

@pytest.mark.parametrize(
    "provider, reply, code, needles, attempts",
    [
        ("qwen", fs.dashscope_error("invalid_api_key"), 3, ["qwen", "HTTP 401", "Incorrect API key", "DASHSCOPE_API_KEY"], 1),
        ("zhipu", fs.zhipu_error("1002"), 3, ["zhipu", "HTTP 401", "1002", "ZHIPUAI_API_KEY"], 1),
        ("qwen", fs.dashscope_error("Arrearage"), 4, ["arrears", "Arrearage"], 1),
        ("zhipu", fs.zhipu_error("1113"), 4, ["arrears", "1113", "欠费"], 1),
        ("qwen", fs.dashscope_error("model_not_found"), 1, ["model 'qwen-plus' not found", "HTTP 404"], 1),
        ("zhipu", fs.zhipu_error("1211"), 1, ["model 'glm-4-plus' not found", "1211"], 1),
        ("qwen", fs.dashscope_error("data_inspection_failed", sse=True), 1, ["content filter", "inappropriate"], 1),
        ("zhipu", fs.zhipu_error("1301"), 1, ["content filter", "1301"], 1),
        ("zhipu", fs.zhipu_error("1261"), 1, ["1261", "Prompt 超长"], 1),
        ("qwen", fs.dashscope_error("invalid_parameter_error"), 1, ["HTTP 400", "Range of input length"], 1),
    ],
)
def test_errors_not_retried(chat, server, provider, reply, code, needles, attempts):
    server.queue(reply)
    proc = chat.run("ask", "-p", provider, "hi")
    assert proc.returncode == code, proc.stderr
    line = one_line_error(proc, *needles)
    assert DASHSCOPE_KEY not in line and ZHIPU_KEY not in line
    assert len(completions(server)) == attempts
    assert proc.stdout == ""


@pytest.mark.parametrize("provider, limited, ok", [
    ("qwen", fs.dashscope_error("limit_requests", headers={"Retry-After": "0"}), fs.dashscope_text(["after retry"])),
    ("zhipu", fs.zhipu_error("1303", headers={"Retry-After": "0"}), fs.zhipu_text(["after retry"])),
])
def test_rate_limit_then_success(chat, server, provider, limited, ok):
    server.queue(limited, ok)
    proc = chat.run("ask", "-p", provider, "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "after retry\n"
    assert len(completions(server)) == 2
    assert "rate limited" in proc.stderr and "retrying" in proc.stderr


def test_rate_limit_gives_up_after_three_attempts(chat, server):
    for _ in range(3):
        server.queue(fs.dashscope_error("limit_requests", headers={"Retry-After": "0"}))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 4
    assert len(completions(server)) == 3
    assert proc.stderr.strip().splitlines()[-1].startswith("chat: qwen: rate limited (HTTP 429, limit_requests)")


def test_long_retry_after_is_not_waited_for(chat, server):
    server.queue(fs.dashscope_error("limit_requests", headers={"Retry-After": "3600"}))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 4
    assert len(completions(server)) == 1


def test_server_error_is_retried(chat, server):
    server.queue(fs.error(503, {"error": {"message": "busy", "code": "ServiceUnavailable"}}, headers={"Retry-After": "0"}),
                 fs.dashscope_text(["fine"]))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "fine\n"


def test_missing_key_names_the_variable(chat, server):
    del chat.env["DASHSCOPE_API_KEY"]
    proc = chat.run("ask", "hi")
    assert proc.returncode == 3
    one_line_error(proc, "qwen", "DASHSCOPE_API_KEY")
    assert server.requests == []


def test_midstream_error_keeps_partial_text(chat, server):
    server.queue(fs.midstream_error(fs.dashscope_text(["好的，", "这是"]), after=3))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 1
    assert proc.stdout == "好的，这是\n"
    one_line_error(proc, "qwen", "content filter", "inappropriate")


@pytest.mark.parametrize("provider, script, after", [
    ("qwen", fs.dashscope_text(["first ", "second ", "third"]), 3),  # role chunk first
    ("zhipu", fs.zhipu_text(["first ", "second ", "third"]), 2),
])
def test_cut_stream_keeps_partial_text(chat, server, provider, script, after):
    server.queue(fs.cut(script, after=after))
    proc = chat.run("ask", "-p", provider, "hi")
    assert proc.returncode == 5
    assert proc.stdout.startswith("first second")
    assert "third" not in proc.stdout
    one_line_error(proc, provider, "connection lost")
    assert len(completions(server)) == 1  # never retried once the answer started


def test_connection_refused(chat, server):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chat.config.write_text(chat.config.read_text().replace(server.url, f"http://127.0.0.1:{port}"))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 5
    *retries, last = proc.stderr.strip().splitlines()
    assert last == (f"chat: qwen: cannot connect to 127.0.0.1:{port} (connection refused); "
                    "check your network or providers.qwen.base_url")
    assert len(retries) == 2 and all(line.startswith("chat: qwen: retrying in ") for line in retries)
    assert retries[0].endswith(f"(1/2): cannot connect to 127.0.0.1:{port} (connection refused); "
                               "check your network or providers.qwen.base_url")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_pipe_output_ends_with_one_newline(chat, server):
    server.queue(fs.dashscope_text(["ans", "wer"]), fs.dashscope_text(["answer\n"]), fs.dashscope_text(["a\n\n"]))
    assert chat.run("ask", "hi").stdout == "answer\n"
    assert chat.run("ask", "hi").stdout == "answer\n"  # not "\n\n"
    assert chat.run("ask", "hi").stdout == "a\n\n"  # the answer's own blank line is kept as it came


def test_timeout(chat, server):
    with chat.config.open("a") as f:
        f.write(f'\n[providers.slow]\nkind = "openai"\nbase_url = "{server.url}/v1"\nmodel = "m"\napi_key_env = ""\ntimeout = 0.3\n')
    for _ in range(3):
        server.queue(fs.hang())
    proc = chat.run("ask", "-p", "slow", "hi")
    assert proc.returncode == 5
    assert "timed out" in proc.stderr.strip().splitlines()[-1]


def test_unknown_provider_and_bad_flag(chat, server):
    proc = chat.run("ask", "-p", "nope", "hi")
    assert proc.returncode == 2
    one_line_error(proc, "unknown provider 'nope'", "qwen", "zhipu")
    proc = chat.run("ask", "--temprature", "1", "hi")
    assert proc.returncode == 2
    one_line_error(proc, "--temprature")


def test_broken_config_is_one_line(chat, server):
    chat.config.write_text("default_provider = qwen\n")
    proc = chat.run("ask", "hi")
    assert proc.returncode == 2
    one_line_error(proc, "config.toml")


# --- Ctrl-C ------------------------------------------------------------------------------------

def test_interrupt_keeps_partial_text(chat, server):
    gate = threading.Event()
    server.queue(fs.gated(fs.dashscope_text(["before ", "the ", "interrupt", " after"]), after=4, gate=gate))
    proc = subprocess.Popen([sys.executable, "-m", "chatcli", "ask", "hi"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=chat.env)
    try:
        seen = b""
        while not seen.endswith(b"interrupt"):
            byte = proc.stdout.read(1)
            assert byte, "stream ended early"
            seen += byte
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        gate.set()
        proc.kill()
    assert proc.returncode == 130
    assert (seen + out).decode() == "before the interrupt\n"  # the line ended, even when interrupted
    assert err.decode().strip() == "chat: interrupted"


# --- start-up ----------------------------------------------------------------------------------

def test_help_imports_no_heavy_module(chat):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "chatcli", "--help"],
                          capture_output=True, text=True, env=chat.env)
    assert proc.returncode == 0
    assert "ask" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    heavy = {"openai", "zhipuai", "prompt_toolkit", "rich.markdown", "httpx", "httpx2", "pydantic"}
    assert not heavy & imported


def test_reader_closing_the_pipe_stops_quietly(chat, server):
    server.queue(fs.dashscope_text([f"line {i}\n" for i in range(100000)]))
    proc = subprocess.run(
        f'"{sys.executable}" -m chatcli ask hi | head -c 10 >/dev/null; exit "${{PIPESTATUS[0]}}"',
        shell=True, executable="/bin/bash", env=chat.env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 141
    assert proc.stderr == ""


def test_ask_is_saved_and_continued(chat, server):
    server.queue(fs.zhipu_text(["记住了"]), fs.zhipu_text(["蓝色"]))
    assert chat.run("ask", "-p", "zhipu", "我最喜欢蓝色，记住").returncode == 0
    proc = chat.run("ask", "-c", "我最喜欢什么颜色？")
    assert proc.returncode == 0, proc.stderr
    second = completions(server)[1]
    assert second.path == "/api/paas/v4/chat/completions"  # the conversation's provider
    assert [m["content"] for m in second.json["messages"]] == ["我最喜欢蓝色，记住", "记住了", "我最喜欢什么颜色？"]
    listing = chat.run("sessions", "list", "--json")
    assert json.loads(listing.stdout)[0]["message_count"] == 4


def test_ask_no_save_and_nothing_to_continue(chat, server):
    server.queue(fs.dashscope_text(["x"]))
    assert chat.run("ask", "--no-save", "private").returncode == 0
    proc = chat.run("ask", "-c", "more")
    assert proc.returncode == 2
    one_line_error(proc, "no saved conversation")
