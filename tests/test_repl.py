"""The interactive session end to end, through a pseudo-terminal: only what a real terminal can show.

That is the process as a person starts it, prompt_toolkit's cursor-position queries and redraws,
Ctrl-C as SIGINT while an answer streams, bracketed paste, Tab, the input history file across runs
and `chat -c`. Everything else about the REPL is tested in-process in tests/test_repl_pipe.py.
"""

from __future__ import annotations

import re
import threading

from tests import fakeserver as fs
from tests.fakeserver import completions
from tests.ptyharness import ENTER, QWEN, say

ALT_ENTER, UP, TAB, CTRL_C, CTRL_D = "\x1b\r", "\x1b[A", "\t", "\x03", "\x04"


def test_two_turns_keep_history(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    say(tty, server, "你好", fs.dashscope_text(["你好！", "有什么可以帮你？"], usage=(8, 6)))
    say(tty, server, "再说一遍", fs.dashscope_text(["好的。"]))
    screen = tty.text()
    assert "你好！有什么可以帮你？" in screen and "好的。" in screen
    assert re.search(r"^qwen-plus · .* · 8 in / 6 out$", screen, re.MULTILINE), screen
    second = completions(server)[1].json["messages"]
    assert second == [
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "你好！有什么可以帮你？"},
        {"role": "user", "content": "再说一遍"},
    ]
    tty.send(CTRL_D)
    assert tty.wait_exit() == 0


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
    tty.wait_text("assistant · interrupted\npartial answer")  # /history's listing


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


def test_ctrl_c_clears_line_then_twice_on_empty_exits(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    tty.send("some draft")
    tty.wait_for(lambda: tty.cursor_line().endswith("some draft"), what="typed")
    tty.send(CTRL_C)
    tty.wait_for(lambda: tty.cursor_line() == QWEN, what="line cleared")
    tty.send(CTRL_C)
    tty.wait_text("press Ctrl-C again or Ctrl-D to leave")
    tty.send(CTRL_C)
    assert tty.wait_exit() == 0
    assert completions(server) == []


def test_piped_stdin_to_bare_chat_answers_once(chat, server):
    server.queue(fs.dashscope_text(["piped answer"]))
    proc = chat.run(input="question from a pipe")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "piped answer\n"


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
    shown = again.text()  # where it left off: the last exchange, before the prompt
    assert shown.index("continuing") < shown.index("记住：我叫小明") < shown.index("好的，小明。") < shown.rindex(QWEN)
    say(again, server, "我叫什么？", fs.dashscope_text(["你叫小明。"]))
    assert [m["content"] for m in completions(server)[1].json["messages"]] == [
        "记住：我叫小明", "好的，小明。", "我叫什么？"]
    again.send(CTRL_D)
    assert again.wait_exit() == 0
    shown = chat.run("sessions", "show", listing.stdout.splitlines()[1].split("\t")[0])
    assert "你叫小明。" in shown.stdout
