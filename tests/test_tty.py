"""`chat ask` in a terminal, through a pseudo-terminal, read back through a terminal emulator."""

from __future__ import annotations

import sys

import pexpect
import pyte

import fakeserver as fs


def run_in_pty(chat, *args: str) -> tuple[str, int]:
    child = pexpect.spawn(sys.executable, ["-m", "chatcli", *args], env=chat.env, encoding="utf-8",
                          dimensions=(24, 100), timeout=20)
    child.expect(pexpect.EOF)
    child.close()
    return child.before, child.exitstatus


def screen_lines(raw: str) -> list[str]:
    screen = pyte.Screen(100, 24)
    stream = pyte.Stream(screen)
    stream.feed(raw.replace("\n", "\r\n") if "\r\n" not in raw else raw)
    return [line.rstrip() for line in screen.display]


def test_terminal_answer_ends_on_fresh_line(chat, server):
    server.queue(fs.dashscope_text(["第一行\n", "second line"]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    lines = screen_lines(raw)
    assert lines[:3] == ["第一行", "second line", ""]


def test_terminal_reasoning_is_dim_then_answer(chat, server):
    server.queue(fs.dashscope_text(["answer"], reasoning=["let me ", "think"]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    assert "\x1b[2mlet me think" in raw
    lines = screen_lines(raw)
    assert lines[0] == "let me think"
    assert "answer" in lines[1:3]


def test_no_color_means_no_escape_codes(chat, server):
    chat.env["NO_COLOR"] = "1"
    server.queue(fs.dashscope_text(["plain"], reasoning=["hmm"]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    assert "\x1b" not in raw
    assert "plain" in raw


def test_error_in_terminal_is_one_line(chat, server):
    server.queue(fs.dashscope_error("invalid_api_key"))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 3
    lines = raw.strip().splitlines()  # one logical line (the terminal may wrap it)
    assert len(lines) == 1 and lines[0].startswith("chat: qwen: authentication failed")
