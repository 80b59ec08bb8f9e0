"""The interactive session, driven through a pseudo-terminal."""

from __future__ import annotations

import threading

import pytest

from tests import fakeserver as fs
from tests.fakeserver import completions
from tests.ptyharness import ENTER, QWEN, Tty, say

ALT_ENTER, UP, TAB, CTRL_C, CTRL_D = "\x1b\r", "\x1b[A", "\t", "\x03", "\x04"


@pytest.fixture
def term(chat):
    started: list[Tty] = []

    def spawn(*args: str) -> Tty:
        tty = Tty(chat.env, *args)
        started.append(tty)
        return tty

    yield spawn
    for tty in started:
        tty.close()


def test_two_turns_keep_history(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    say(tty, server, "你好", fs.dashscope_text(["你好！", "有什么可以帮你？"], usage=(8, 6)))
    say(tty, server, "再说一遍", fs.dashscope_text(["好的。"]))
    screen = tty.text()
    assert "你好！有什么可以帮你？" in screen and "好的。" in screen
    assert "qwen-plus · 8 in / 6 out" in screen
    second = completions(server)[1].json["messages"]
    assert second == [
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "你好！有什么可以帮你？"},
        {"role": "user", "content": "再说一遍"},
    ]
    tty.send(CTRL_D)
    assert tty.wait_exit() == 0


def test_switch_provider_and_model_mid_session(term, server):
    tty = term("-s", "Be brief.")
    tty.wait_prompt(QWEN)
    say(tty, server, "one", fs.dashscope_text(["first answer"]))
    tty.send("/provider zhipu" + ENTER)
    tty.wait_prompt("zhipu:glm-4-plus>")
    say(tty, server, "two", fs.zhipu_text(["second answer"]), prompt="zhipu:glm-4-plus>")
    tty.send("/model glm-4-flash" + ENTER)
    tty.wait_prompt("zhipu:glm-4-flash>")
    say(tty, server, "three", fs.zhipu_text(["third"]), prompt="zhipu:glm-4-flash>")
    reqs = completions(server)
    assert reqs[1].path == "/api/paas/v4/chat/completions" and reqs[1].json["model"] == "glm-4-plus"
    assert reqs[2].json["model"] == "glm-4-flash"
    assert [m["content"] for m in reqs[2].json["messages"]] == [
        "Be brief.", "one", "first answer", "two", "second answer", "three"]
    tty.send("/exit" + ENTER)
    assert tty.wait_exit() == 0


def test_tools_in_the_repl(term, server):
    server.route("/v1/search", lambda req: fs.json_reply({"results": [
        {"name": "杭州", "latitude": 30.3, "longitude": 120.2, "country": "中国", "admin1": "浙江"}]}))
    server.route("/v1/forecast", lambda req: fs.json_reply({"current": {
        "time": "2026-11-21T14:00", "temperature_2m": 18.5, "relative_humidity_2m": 60,
        "apparent_temperature": 17.0, "weather_code": 0, "wind_speed_10m": 5.0}}))
    tty = term()
    tty.wait_prompt(QWEN)
    server.queue(fs.dashscope_tool_calls([("c1", "get_current_weather", '{"location": "杭州"}')]))
    say(tty, server, "杭州天气", fs.dashscope_text(["晴，18.5°C。"]))
    assert "get_current_weather" in tty.text() and "晴，18.5°C。" in tty.text()
    tool = completions(server)[1].json["messages"][-1]
    assert tool["role"] == "tool" and "18.5" in tool["content"]
    tty.send("/tools off" + ENTER)
    tty.wait_text("tools off")
    tty.wait_prompt(QWEN)
    say(tty, server, "again", fs.dashscope_text(["ok"]))
    assert "tools" not in completions(server)[2].json


def test_ctrl_c_stops_the_answer_and_keeps_it(term, server):
    gate = threading.Event()
    tty = term()
    tty.wait_prompt(QWEN)
    server.queue(fs.gated(fs.dashscope_text(["partial ", "answer", " never shown"]), after=3, gate=gate))
    tty.send("slow one" + ENTER)
    tty.wait_text("partial answer")
    tty.send(CTRL_C)
    tty.wait_text("interrupted")
    tty.wait_prompt(QWEN)
    gate.set()
    say(tty, server, "next", fs.dashscope_text(["fine"]))
    messages = completions(server)[1].json["messages"]
    assert messages[1] == {"role": "assistant", "content": "partial answer"}
    assert messages[2] == {"role": "user", "content": "next"}
    assert "never shown" not in tty.text()
    tty.send("/history" + ENTER)
    tty.wait_text("assistant [interrupted]: partial answer")


def test_multiline_paste_and_esc_enter(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    say(tty, server, "\x1b[200~line one\nline two\x1b[201~", fs.dashscope_text(["pasted"]))
    say(tty, server, "first" + ALT_ENTER + "second", fs.dashscope_text(["typed"]))
    reqs = completions(server)
    assert reqs[0].json["messages"][-1]["content"] == "line one\nline two"
    assert reqs[1].json["messages"][-1]["content"] == "first\nsecond"


def test_tab_completion(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    tty.send("/prov" + TAB)
    tty.wait_for(lambda: tty.cursor_line().endswith("/provider"), what="command completed")
    tty.send(" zh" + TAB)
    tty.wait_for(lambda: tty.cursor_line().endswith("/provider zhipu"), what="provider completed")
    tty.send(ENTER)
    tty.wait_prompt("zhipu:glm-4-plus>")
    tty.send("/model glm-4-fl" + TAB)
    tty.wait_for(lambda: tty.cursor_line().endswith("/model glm-4-flash"), what="model completed")


def test_history_recall_after_restart(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    say(tty, server, "remember this line", fs.dashscope_text(["ok"]))
    tty.send(CTRL_D)
    assert tty.wait_exit() == 0
    again = term()
    again.wait_prompt(QWEN)
    again.send(UP)
    again.wait_for(lambda: again.cursor_line() == f"{QWEN} remember this line", what="recalled line")


def test_clear_retry_undo(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    say(tty, server, "one", fs.dashscope_text(["answer one"]))
    say(tty, server, "two", fs.dashscope_text(["answer two"]))
    n = server.responses_done
    server.queue(fs.dashscope_text(["answer two, again"]))
    tty.send("/retry" + ENTER)
    server.wait_responses(n + 1)
    tty.wait_prompt(QWEN)
    retried = completions(server)[2].json["messages"]
    assert [m["content"] for m in retried] == ["one", "answer one", "two"]
    tty.send("/undo" + ENTER)
    tty.wait_text("dropped the last turn: two")
    tty.wait_prompt(QWEN)
    say(tty, server, "three", fs.dashscope_text(["answer three"]))
    assert [m["content"] for m in completions(server)[3].json["messages"]] == ["one", "answer one", "three"]
    tty.send("/clear" + ENTER)
    tty.wait_text("new conversation")
    tty.wait_prompt(QWEN)
    say(tty, server, "fresh", fs.dashscope_text(["new"]))
    assert completions(server)[4].json["messages"] == [{"role": "user", "content": "fresh"}]


def test_errors_return_to_the_prompt_and_retry_works(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    say(tty, server, "hello", fs.dashscope_error("invalid_api_key"))
    assert "chat: qwen: authentication failed (HTTP 401" in tty.text()
    n = server.responses_done
    server.queue(fs.dashscope_text(["works now"]))
    tty.send("/retry" + ENTER)
    server.wait_responses(n + 1)
    tty.wait_prompt(QWEN)
    assert "works now" in tty.text()
    assert completions(server)[1].json["messages"] == [{"role": "user", "content": "hello"}]


def test_unknown_command_sends_nothing(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    tty.send("/provdier zhipu" + ENTER)
    tty.wait_text("unknown command /provdier")
    tty.wait_prompt(QWEN)
    assert completions(server) == []


def test_ctrl_c_clears_line_then_twice_on_empty_exits(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    tty.send("some draft")
    tty.wait_for(lambda: tty.cursor_line().endswith("some draft"), what="typed")
    tty.send(CTRL_C)
    tty.wait_for(lambda: tty.cursor_line() == QWEN, what="line cleared")
    tty.send(CTRL_C)
    tty.wait_text("Press Ctrl-C again or Ctrl-D to exit")
    tty.send(CTRL_C)
    assert tty.wait_exit() == 0
    assert completions(server) == []


def test_piped_stdin_to_bare_chat_answers_once(chat, server):
    server.queue(fs.dashscope_text(["piped answer"]))
    proc = chat.run(input="question from a pipe")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "piped answer"


def test_saved_then_continued_with_dash_c(term, server, chat):
    tty = term()
    tty.wait_prompt(QWEN)
    say(tty, server, "记住：我叫小明", fs.dashscope_text(["好的，小明。"]))
    tty.send(CTRL_D)
    assert tty.wait_exit() == 0
    listing = chat.run("sessions", "list")
    assert listing.returncode == 0 and "记住：我叫小明" in listing.stdout
    again = term("-c")
    again.wait_text("continuing")
    again.wait_prompt(QWEN)
    say(again, server, "我叫什么？", fs.dashscope_text(["你叫小明。"]))
    assert [m["content"] for m in completions(server)[1].json["messages"]] == [
        "记住：我叫小明", "好的，小明。", "我叫什么？"]
    again.send(CTRL_D)
    assert again.wait_exit() == 0
    shown = chat.run("sessions", "show", listing.stdout.splitlines()[1].split("\t")[0])
    assert "你叫小明。" in shown.stdout


def test_resume_by_id_restores_provider_and_undo_is_saved(term, server, chat):
    tty = term("-p", "zhipu")
    tty.wait_prompt("zhipu:glm-4-plus>")
    say(tty, server, "first", fs.zhipu_text(["one"]), prompt="zhipu:glm-4-plus>")
    say(tty, server, "second", fs.zhipu_text(["two"]), prompt="zhipu:glm-4-plus>")
    tty.send("/undo" + ENTER)
    tty.wait_text("dropped the last turn")
    tty.wait_prompt("zhipu:glm-4-plus>")
    tty.send("/sessions" + ENTER)
    tty.wait_text("/load ID continues one")
    tty.send(CTRL_D)
    assert tty.wait_exit() == 0
    cid = chat.run("sessions", "list").stdout.splitlines()[1].split("\t")[0]
    again = term("--resume", cid[:4])
    again.wait_prompt("zhipu:glm-4-plus>")
    say(again, server, "third", fs.zhipu_text(["three"]), prompt="zhipu:glm-4-plus>")
    assert [m["content"] for m in completions(server)[-1].json["messages"]] == ["first", "one", "third"]


def test_no_save(term, server, chat):
    tty = term("--no-save")
    tty.wait_prompt(QWEN)
    say(tty, server, "secret stuff", fs.dashscope_text(["ok"]))
    tty.send(CTRL_D)
    assert tty.wait_exit() == 0
    assert "secret stuff" not in chat.run("sessions", "list").stdout


def test_load_in_the_session(term, server, chat):
    tty = term()
    tty.wait_prompt(QWEN)
    say(tty, server, "topic A", fs.dashscope_text(["about A"]))
    tty.send("/clear" + ENTER)
    tty.wait_text("new conversation")
    tty.wait_prompt(QWEN)
    say(tty, server, "topic B", fs.dashscope_text(["about B"]))
    rows = chat.run("sessions", "list").stdout.splitlines()[1:]
    cid_a = next(r.split("\t")[0] for r in rows if "topic A" in r)
    tty.send(f"/load {cid_a}" + ENTER)
    tty.wait_text("continuing")
    tty.wait_prompt(QWEN)
    say(tty, server, "more on A", fs.dashscope_text(["sure"]))
    assert [m["content"] for m in completions(server)[-1].json["messages"]] == ["topic A", "about A", "more on A"]


