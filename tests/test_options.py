"""Generation options: flags and config defaults, what each provider is sent, sources, JSON mode, usage."""

from __future__ import annotations

import json
import sys

import pexpect
import pyte
import pytest

from chatcli.core.options import GenerationOptions
from chatcli.errors import UsageError
from chatcli.providers.wire import with_json_hint
from tests import fakeserver as fs
from tests.fake_dashscope import NativeReply, NativeService
from tests.fakeserver import completions
from tests.ptyharness import ENTER, QWEN, Tty, say

SOURCES = [{"title": "杭州天气预报", "link": "https://weather.example/hz", "media": "天气网", "content": "晴"},
           {"title": "Hangzhou", "link": "https://wiki.example/Hangzhou", "media": "wiki"}]
WEB_SEARCH = {"type": "web_search", "web_search": {"enable": True, "search_result": True}}


def one_line_error(proc, *needles):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chat: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def add_config(chat, text: str) -> None:
    """Append tables, or add keys to a provider table the test config already has."""
    old = chat.config.read_text()
    for table in ("[providers.qwen]\n", "[providers.zhipu]\n"):
        if text.startswith(table) and table in old:
            chat.config.write_text(old.replace(table, text if text.endswith("\n") else text + "\n", 1))
            return
    chat.config.write_text(old + "\n" + text)


def screen_lines(raw: str) -> list[str]:
    """What a terminal shows for this output, blank lines dropped."""
    screen = pyte.HistoryScreen(100, 24, history=1000)
    pyte.Stream(screen).feed(raw)
    lines = ["".join(line[x].data for x in range(100)).rstrip() for line in screen.history.top]
    return [line for line in lines + [line.rstrip() for line in screen.display] if line]


# --- the options object ------------------------------------------------------------------------

def test_flags_win_over_config_defaults_field_by_field():
    config = GenerationOptions(temperature=0.2, max_tokens=10, stop=["END"], search=True, think=True)
    flags = GenerationOptions(temperature=0.0, search=False, json_object=True)
    merged = config.merged(flags)
    assert merged == GenerationOptions(temperature=0.0, max_tokens=10, stop=["END"], search=False, think=True,
                                       json_object=True)


def test_json_hint_only_when_no_message_mentions_json():
    plain = [{"role": "user", "content": "list three colours"}]
    assert with_json_hint(plain)[0] == {"role": "system", "content": "Reply with one JSON object."}
    system = [{"role": "system", "content": "Be terse."}, *plain]
    assert with_json_hint(system)[0]["content"] == "Be terse.\n\nReply with one JSON object."
    asked = [{"role": "user", "content": [{"type": "text", "text": "give me JSON"}]}]
    assert with_json_hint(asked) is asked


@pytest.mark.parametrize("opts, message", [
    (GenerationOptions(temperature=2), "--temperature must be a number in [0, 2) (got 2)"),
    (GenerationOptions(top_p=0), "--top-p must be a number in (0, 1] (got 0)"),
    (GenerationOptions(max_tokens=0), "--max-tokens must be a whole number >= 1 (got 0)"),
    (GenerationOptions(seed=2**64), "--seed must be a whole number from 0 to 2**64-1"),
    (GenerationOptions(presence_penalty=-2.5), "--presence-penalty must be a number in [-2, 2] (got -2.5)"),
    (GenerationOptions(temperature=float("nan")), "--temperature must be a number in [0, 2)"),
])
def test_out_of_range_values(opts, message):
    with pytest.raises(UsageError) as e:
        opts.validate()
    assert message in e.value.message


# --- refused before anything is sent -----------------------------------------------------------

@pytest.mark.parametrize("args, needles", [
    (["--temperature", "2"], ["--temperature must be a number in [0, 2) (got 2.0)"]),
    (["--top-p", "0"], ["--top-p must be a number in (0, 1]"]),
    (["--max-tokens", "0"], ["--max-tokens must be a whole number >= 1"]),
    (["--seed", "-1"], ["--seed must be a whole number from 0 to 2**64-1"]),
    (["--seed", str(2**64)], ["--seed must be a whole number from 0 to 2**64-1"]),
    (["--presence-penalty", "3"], ["--presence-penalty must be a number in [-2, 2]"]),
    (["--stop", ""], ["--stop needs a non-empty string"]),
    (["--temperature", "hot"], ["--temperature needs a number (got 'hot')"]),
    (["--think", "--no-stream"], ["thinking needs streaming", "--no-stream"]),
    (["--think", "--json-object"], ["--json-object cannot be used with thinking on", "--no-think"]),
    (["--top-p", "1"], ["qwen: DashScope takes --top-p in (0, 1)"]),
    (["-p", "local", "--search"], ["local:", "no web search", "DashScope", "Zhipu"]),
    (["-p", "zhipu", "--presence-penalty", "1"], ["zhipu:", "does not take presence_penalty"]),
])
def test_refused_options_are_one_line_exit_2_nothing_sent(chat, server, args, needles):
    proc = chat.run("ask", *args, "hi")
    assert proc.returncode == 2, proc.stderr
    one_line_error(proc, *needles)
    assert proc.stdout == "" and completions(server) == []


def test_bad_config_values_name_file_and_line(chat, server):
    add_config(chat, "[providers.openai]\ntemperature = 5\n")
    proc = chat.run("ask", "hi")
    assert proc.returncode == 2
    line = one_line_error(proc, "providers.openai.temperature must be a number in [0, 2)")
    lineno = chat.config.read_text().splitlines().index("temperature = 5") + 1
    assert f"config.toml:{lineno}:" in line


@pytest.mark.parametrize("text, needle", [
    ('[prices.qwen-plus]\ninput = 0.8\noutput = -1\n', 'prices."qwen-plus".output must be a number >= 0'),
    ('[prices.qwen-plus]\ninput = 0.8\noutput = 2\nouptut = 1\n', "unknown key 'ouptut'"),
    ('[prices]\ncurrency = 3\n', "prices.currency must be a non-empty string"),
    ('[providers.zhipu]\nstop = []\n', "providers.zhipu.stop must be a non-empty string or a list of them"),
    ('[providers.zhipu]\nsearch = "yes"\n', "providers.zhipu.search must be true or false"),
])
def test_bad_prices_and_defaults_in_config(chat, server, text, needle):
    add_config(chat, text)
    proc = chat.run("ask", "hi")
    assert proc.returncode == 2
    one_line_error(proc, "config.toml:", needle)


# --- what each provider is sent -----------------------------------------------------------------

SAMPLING = ["--temperature", "0.3", "--top-p", "0.8", "--max-tokens", "100", "--seed", "42",
            "--stop", "END", "--stop", "##"]


def test_qwen_compatible_fields(chat, server):
    server.queue(fs.dashscope_text(["ok"]))
    proc = chat.run("ask", *SAMPLING, "--presence-penalty", "0.5", "--search", "--think", "hi")
    assert proc.returncode == 0, proc.stderr
    body = completions(server)[0].json
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "seed", "stop", "presence_penalty")} == {
        "temperature": 0.3, "top_p": 0.8, "max_tokens": 100, "seed": 42, "stop": ["END", "##"],
        "presence_penalty": 0.5}
    assert body["enable_search"] is True and body["enable_thinking"] is True  # extra_body: top level
    assert "response_format" not in body


def test_qwen_big_seed_and_no_switches(chat, server):
    server.queue(fs.dashscope_text(["ok"]))
    assert chat.run("ask", "--seed", str(2**64 - 1), "--no-search", "--no-think", "hi").returncode == 0
    body = completions(server)[0].json
    assert body["seed"] == 2**64 - 1
    assert body["enable_search"] is False and body["enable_thinking"] is False
    assert "temperature" not in body


def test_zhipu_fields(chat, server):
    server.queue(fs.zhipu_text(["ok"]))
    proc = chat.run("ask", "-p", "zhipu", *SAMPLING, "--think", "--search", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    body = completions(server)[0].json
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "seed", "stop")} == {
        "temperature": 0.3, "top_p": 0.8, "max_tokens": 100, "seed": 42, "stop": ["END", "##"]}
    assert body["thinking"] == {"type": "enabled"}
    assert body["tools"][-1] == WEB_SEARCH
    assert [t["function"]["name"] for t in body["tools"][:-1]] == ["get_current_time", "get_current_weather"]
    assert "enable_search" not in body and "presence_penalty" not in body


def test_zhipu_no_think_and_search_without_other_tools(chat, server):
    server.queue(fs.zhipu_text(["ok"]))
    assert chat.run("ask", "-p", "zhipu", "--no-think", "--search", "--no-tools", "hi").returncode == 0
    body = completions(server)[0].json
    assert body["thinking"] == {"type": "disabled"} and body["tools"] == [WEB_SEARCH]


@pytest.mark.parametrize("args, sent, told", [
    (["--temperature", "1.5", "--top-p", "1"], {"temperature": 0.99, "top_p": 0.99},
     ["Zhipu takes temperature in (0, 1); sent 0.99 instead of 1.5", "Zhipu takes top_p in (0, 1); sent 0.99 instead of 1"]),
    (["--temperature", "0"], {"do_sample": False}, ["0 is sent as do_sample=false (greedy)"]),
])
def test_zhipu_ranges_are_said_not_silently_changed(chat, server, args, sent, told):
    server.queue(fs.zhipu_text(["ok"]))
    proc = chat.run("ask", "-p", "zhipu", *args, "hi")
    assert proc.returncode == 0, proc.stderr
    body = completions(server)[0].json
    assert {k: body.get(k) for k in sent} == sent
    if "do_sample" in sent:
        assert body.get("temperature") is None
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(told)
    for line, needle in zip(lines, told):
        assert line.startswith("chat: zhipu: ") and needle in line


def test_dashscope_native_parameters(chat, server):
    add_config(chat, f'[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    native = NativeService(server)
    native.queue(NativeReply(["ok"]))
    proc = chat.run("ask", "-p", "dashscope", "--no-tools", *SAMPLING, "--presence-penalty", "-1",
                    "--search", "--think", "hi")
    assert proc.returncode == 0, proc.stderr
    (req,) = native.requests
    assert req.json["parameters"] == {
        "result_format": "message", "incremental_output": True, "temperature": 0.3, "top_p": 0.8,
        "max_tokens": 100, "seed": 42, "stop": ["END", "##"], "presence_penalty": -1.0,
        "enable_search": True, "search_options": {"enable_source": True}, "enable_thinking": True}


def test_dashscope_native_json_object(chat, server):
    add_config(chat, f'[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    native = NativeService(server)
    native.queue(NativeReply(['{"a": 1}']))
    proc = chat.run("ask", "-p", "dashscope", "--no-tools", "--json-object", "give a")
    assert proc.returncode == 0, proc.stderr
    (req,) = native.requests
    assert req.json["parameters"]["response_format"] == {"type": "json_object"}
    assert req.json["input"]["messages"][0] == {"role": "system", "content": "Reply with one JSON object."}


def test_config_defaults_then_flags_win(chat, server):
    add_config(chat, '[providers.qwen]\ntemperature = 0.2\nmax_tokens = 10\nstop = "END"\nsearch = true\n')
    server.queue(fs.dashscope_text(["ok"]), fs.dashscope_text(["ok"]))
    assert chat.run("ask", "hi").returncode == 0
    assert chat.run("ask", "--temperature", "0.9", "--no-search", "--stop", "X", "hi").returncode == 0
    first, second = (r.json for r in completions(server))
    assert (first["temperature"], first["max_tokens"], first["stop"], first["enable_search"]) == (0.2, 10, ["END"], True)
    assert (second["temperature"], second["max_tokens"], second["stop"], second["enable_search"]) == (0.9, 10, ["X"], False)


def test_think_in_config_with_no_stream_is_refused(chat, server):
    add_config(chat, "[providers.qwen]\nthink = true\n")
    proc = chat.run("ask", "--no-stream", "hi")
    assert proc.returncode == 2
    one_line_error(proc, "thinking needs streaming")
    server.queue(fs.dashscope_text(["ok"]))
    assert chat.run("ask", "--no-stream", "--no-think", "hi").returncode == 0
    assert completions(server)[0].json["enable_thinking"] is False


def test_think_on_another_openai_server_is_not_sent(chat, server):
    server.queue(fs.dashscope_text(["ok"]))
    proc = chat.run("ask", "-p", "local", "--think", "hi")
    assert proc.returncode == 0
    assert "enable_thinking" not in completions(server)[0].json
    one_line_error(proc, "local: --think/--no-think is for DashScope and Zhipu; not sent")


# --- web search sources (Zhipu) ------------------------------------------------------------------

def test_search_sources_in_json(chat, server):
    server.queue(fs.zhipu_text(["杭州今天晴。"], web_search=SOURCES))
    proc = chat.run("ask", "-p", "zhipu", "--search", "--json", "杭州天气")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["content"] == "杭州今天晴。"
    assert data["sources"] == SOURCES


def test_search_sources_keep_piped_stdout_exact(chat, server):
    server.queue(fs.zhipu_text(["杭州今天晴。"], web_search=SOURCES))
    proc = chat.run("ask", "-p", "zhipu", "--search", "杭州天气")
    assert proc.returncode == 0
    assert proc.stdout == "杭州今天晴。\n" and proc.stderr == ""  # stderr is not a terminal either


def test_json_without_search_has_no_sources_key(chat, server):
    server.queue(fs.zhipu_text(["x"]))
    assert "sources" not in json.loads(chat.run("ask", "-p", "zhipu", "--json", "hi").stdout)


@pytest.mark.parametrize("mode", [[], ["--raw"]])
def test_search_sources_listed_under_the_answer_in_a_terminal(chat, server, mode):
    server.queue(fs.zhipu_text(["杭州今天晴。"], web_search=SOURCES))
    child = pexpect.spawn(sys.executable, ["-m", "chatcli", "ask", *mode, "-p", "zhipu", "--search", "杭州天气"],
                          env=chat.env, encoding="utf-8", dimensions=(24, 100), timeout=20)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert screen_lines(child.before) == ["杭州今天晴。", "Sources:", "1. 杭州天气预报 — https://weather.example/hz",
                                          "2. Hangzhou — https://wiki.example/Hangzhou"]
    assert "\x1b[2mSources:" in child.before  # dim


# --- --json-object ---------------------------------------------------------------------------------

def test_json_object_good(chat, server):
    server.queue(fs.dashscope_text(['{"name": "张三",', ' "id": "12345678"}']))
    proc = chat.run("ask", "--json-object", "请用json格式输出一个学生的信息")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"name": "张三", "id": "12345678"}
    body = completions(server)[0].json
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"] == [{"role": "user", "content": "请用json格式输出一个学生的信息"}]  # no hint needed


def test_json_object_adds_a_hint_only_to_the_request(chat, server):
    server.queue(fs.dashscope_text(['{"ok": true}']), fs.dashscope_text(["fine"]))
    assert chat.run("ask", "-s", "Be terse.", "--json-object", "a student").returncode == 0
    assert completions(server)[0].json["messages"][0] == {
        "role": "system", "content": "Be terse.\n\nReply with one JSON object."}
    assert chat.run("ask", "-c", "and now?").returncode == 0
    assert completions(server)[1].json["messages"][0] == {"role": "system", "content": "Be terse."}


def test_json_object_bad_answer_fails_but_keeps_text(chat, server):
    server.queue(fs.dashscope_text(["Sure! {\"name\": ", "\"x\"}"]))
    proc = chat.run("ask", "--json-object", "json please")
    assert proc.returncode == 1
    assert proc.stdout == 'Sure! {"name": "x"}\n'
    one_line_error(proc, "the answer is not valid JSON (--json-object)", "line 1 column 1")


def test_json_object_bad_answer_in_json_output(chat, server):
    server.queue(fs.zhipu_text(["not json"]))
    proc = chat.run("ask", "-p", "zhipu", "--json-object", "--json", "json please")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["content"] == "not json" and data["error"]["exit_code"] == 1
    assert completions(server)[0].json["response_format"] == {"type": "json_object"}


# --- usage and cost --------------------------------------------------------------------------------

def test_usage_line_without_prices(chat, server):
    server.queue(fs.zhipu_text(["ok"], usage=(1234, 56), cached=200, reasoning_tokens=30))
    proc = chat.run("ask", "-p", "zhipu", "--usage", "hi")
    assert proc.returncode == 0
    assert proc.stdout == "ok\n"
    assert proc.stderr == "usage: 1,234 in (200 cached) · 56 out (30 reasoning)\n"


def test_usage_line_with_prices(chat, server):
    add_config(chat, '[prices]\ncurrency = "CNY"\n[prices.qwen-plus]\ninput = 2\noutput = 8\ncached = 0.5\n')
    server.queue(fs.dashscope_text(["ok"], usage=(1000, 500), cached=200), fs.dashscope_text(["ok"], usage=(1000, 500)))
    proc = chat.run("ask", "--usage", "hi")
    assert proc.returncode == 0
    # (800 × 2 + 200 × 0.5 + 500 × 8) / 1e6
    assert proc.stderr == "usage: 1,000 in (200 cached) · 500 out · ¥0.0057\n"
    data = json.loads(chat.run("ask", "--json", "hi").stdout)
    assert data["cost"] == {"amount": 0.006, "currency": "CNY"}


def test_usage_for_unpriced_model_has_no_cost(chat, server):
    add_config(chat, '[prices.qwen-max]\ninput = 2\noutput = 8\n')
    server.queue(fs.dashscope_text(["ok"], usage=(10, 5)))
    proc = chat.run("ask", "--usage", "hi")
    assert proc.stderr == "usage: 10 in · 5 out\n"


# --- the REPL ---------------------------------------------------------------------------------------

@pytest.fixture
def tty(term):
    return term


def command(t: Tty, text: str, answer: str, prompt: str = QWEN) -> None:
    t.send(text + ENTER)
    t.wait_text(answer)
    t.wait_prompt(prompt)


def test_repl_search_and_think_change_the_next_request(chat, server, tty):
    add_config(chat, '[prices.qwen-plus]\ninput = 2\noutput = 8\n[prices]\ncurrency = "USD"\n')
    t = tty("--temperature", "0.4")
    t.wait_prompt(QWEN)
    say(t, server, "one", fs.dashscope_text(["first"], usage=(1000, 500)))
    command(t, "/search on", "web search on")
    command(t, "/think on", "thinking on")
    say(t, server, "two", fs.dashscope_text(["second"], usage=(3000, 1000)))
    command(t, "/think off", "thinking off")
    say(t, server, "three", fs.dashscope_text(["third"], usage=(1000, 0)))
    first, second, third = (r.json for r in completions(server))
    assert first["temperature"] == 0.4 and "enable_search" not in first and "enable_thinking" not in first
    assert second["enable_search"] is True and second["enable_thinking"] is True
    assert third["enable_search"] is True and third["enable_thinking"] is False
    # (5000 × 2 + 1500 × 8) / 1e6 = 0.022
    command(t, "/usage", "cost $0.0220")
    assert "3 requests, 5,000 in, 1,500 out, 6,500 total" in t.text()


def test_repl_search_on_a_server_without_it_sends_nothing(chat, server, tty):
    t = tty("-p", "local")
    t.wait_prompt("local:llama-test>")
    command(t, "/search on", "no web search", prompt="local:llama-test>")  # refused at the command
    assert "web search on" not in t.text()
    say(t, server, "hello", fs.dashscope_text(["hi"]), prompt="local:llama-test>")
    (req,) = completions(server)
    assert req.json["messages"] == [{"role": "user", "content": "hello"}]


def test_repl_flag_out_of_range_is_refused_at_start(chat, server):
    proc = chat.run("--temperature", "9", input="hi")
    assert proc.returncode == 2
    one_line_error(proc, "--temperature must be a number in [0, 2)")


def test_bare_chat_takes_generation_flags(chat, server):
    server.queue(fs.zhipu_text(["ok"]))
    proc = chat.run("-p", "zhipu", "--temperature", "0.5", "--stop", "A", "--stop=B", "--no-think", "--search",
                    input="hi")
    assert proc.returncode == 0, proc.stderr
    body = completions(server)[0].json
    assert (body["temperature"], body["stop"], body["thinking"]) == (0.5, ["A", "B"], {"type": "disabled"})
    assert body["tools"][-1] == WEB_SEARCH
    proc = chat.run("--seed", "abc", input="hi")
    assert proc.returncode == 2
    one_line_error(proc, "--seed needs a whole number (got 'abc')")
