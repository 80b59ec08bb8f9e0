"""`chat ask` in a terminal, through a pseudo-terminal, read back through a terminal emulator."""

from __future__ import annotations

import io
import re
import sys
import threading

import pexpect
import pyte

from tests import fakeserver as fs

# SGR sequences that set a colour (foreground or background, 8/16/256/true colour).
COLOR_SGR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def spawn(chat, *args: str, rows: int = 24) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "chatcli", *args], env=chat.env, encoding="utf-8",
                         dimensions=(rows, 100), timeout=20)


def run_in_pty(chat, *args: str, rows: int = 24) -> tuple[str, int]:
    child = spawn(chat, *args, rows=rows)
    child.expect(pexpect.EOF)
    child.close()
    return child.before, child.exitstatus


def screen_of(raw: str, rows: int = 24) -> pyte.HistoryScreen:
    screen = pyte.HistoryScreen(100, rows, history=10000)
    pyte.Stream(screen).feed(raw.replace("\n", "\r\n") if "\r\n" not in raw else raw)
    return screen


def screen_lines(raw: str, rows: int = 24) -> list[str]:
    """Everything a person can scroll back to, then the screen, without trailing blank lines."""
    screen = screen_of(raw, rows)
    history = ["".join(line[x].data for x in range(100)).rstrip() for line in screen.history.top]
    lines = history + [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


# --- the answer as markdown ------------------------------------------------------------------

def test_terminal_answer_ends_on_fresh_line(chat, server):
    server.queue(fs.dashscope_text(["第一行\n\n", "second line"]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    screen = screen_of(raw)
    assert [line.rstrip() for line in screen.display[:4]] == ["第一行", "", "second line", ""]
    assert (screen.cursor.x, screen.cursor.y) == (0, 3)


def test_markdown_is_rendered_and_styled(chat, server):
    server.queue(fs.dashscope_text(["# Ti", "tle\n\nSome **bold** text.\n\n```python\nprint(1)\n",
                                    "```\n\n- one\n- two"]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    lines = screen_lines(raw)
    assert lines == ["Title".center(100).rstrip(), "", "Some bold text.", "", "[1] python", "print(1)", "",
                     " • one", " • two"]  # code: a label for /copy 1, no padding
    assert "\x1b[1;4mTitle" in raw  # h1: bold, underlined
    assert "\x1b[1mbold" in raw
    assert COLOR_SGR.search(raw)  # highlighted code
    assert "```" not in raw and "# Title" not in raw
    assert raw.count("\x1b[?25l") == 1 and raw.rindex("\x1b[?25h") > raw.index("\x1b[?25l")


def test_tall_answer_has_every_line_once(chat, server):
    items = [f"- item {i:03d}\n" for i in range(60)]
    paragraphs = [f"paragraph {i:03d}\n\n" for i in range(40)]
    server.queue(fs.slow(fs.dashscope_text(items + ["\n"] + paragraphs), 0.004))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    lines = screen_lines(raw)
    shown = [line.strip() for line in lines if line.strip()]
    assert shown == [f"• item {i:03d}" for i in range(60)] + [f"paragraph {i:03d}" for i in range(40)]


def test_terminal_reasoning_is_dim_then_folded(chat, server):
    server.queue(fs.dashscope_text(["answer"], reasoning=["let me ", "think\n\nabout it"]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    assert "\x1b[2mlet me" in raw  # shown dim while it streams
    assert screen_lines(raw) == ["reasoning: let me think about it", "answer"]


def test_show_reasoning_false_hides_it(chat, server):
    chat.config.write_text("show_reasoning = false\n" + chat.config.read_text())
    server.queue(fs.dashscope_text(["answer"], reasoning=["secret thoughts"]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    assert "secret" not in raw
    assert screen_lines(raw) == ["answer"]


def test_no_color_means_no_colors(chat, server):
    chat.env["NO_COLOR"] = "1"
    server.queue(fs.dashscope_text(["# plain\n\n```python\nx = 1\n```\n"], reasoning=["hmm"]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    assert not COLOR_SGR.search(raw), raw
    assert screen_lines(raw)[:2] == ["reasoning: hmm", "plain".center(100).rstrip()]


def test_model_text_is_not_markup_nor_escape_codes(chat, server):
    server.queue(fs.dashscope_text(["[bold red]not markup[/] \x1b]8;;http://evil\x07link\x1b]8;;\x07 \x1b[",
                                    "31mred\n"]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    assert screen_lines(raw) == ["[bold red]not markup[/] link red"]
    assert "evil" not in raw and "\x1b[31m" not in raw and "\x1b]" not in raw


# --- raw text -------------------------------------------------------------------------------

ANSWER = "# Title\n\n```python\nprint(1)\n```\n"


def test_raw_flag_in_terminal_gives_the_text(chat, server):
    server.queue(fs.dashscope_text([ANSWER[:9], ANSWER[9:]], reasoning=["hidden"]))
    raw, status = run_in_pty(chat, "ask", "--raw", "hi")
    assert status == 0
    assert raw == ANSWER.replace("\n", "\r\n")


def test_dumb_terminal_gives_the_text(chat, server):
    chat.env["TERM"] = "dumb"
    server.queue(fs.dashscope_text([ANSWER]))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 0
    assert raw == ANSWER.replace("\n", "\r\n")


def test_markdown_flag_to_a_pipe_renders_without_escape_codes(chat, server):
    server.queue(fs.dashscope_text([ANSWER], reasoning=["not on a pipe"]))
    proc = chat.run("ask", "--markdown", "hi")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "not on a pipe" not in proc.stdout
    lines = [line.rstrip() for line in proc.stdout.splitlines()]
    assert lines[0].strip() == "Title" and "print(1)" in lines[3] and "```" not in proc.stdout


def test_raw_and_markdown_together_is_a_usage_error(chat, server):
    proc = chat.run("ask", "--raw", "--markdown", "hi")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "chat: --raw and --markdown cannot be used together"
    assert server.requests == []


# --- interruption and errors ----------------------------------------------------------------

def test_ctrl_c_mid_stream_keeps_what_arrived(chat, server):
    gate = threading.Event()
    chunks = ["# Head\n\n", "before ", "the ", "inter", "rupt\n\n- first item\n- sec", "ond", " never shown"]
    server.queue(fs.gated(fs.dashscope_text(chunks), after=7, gate=gate))
    child = spawn(chat, "ask", "hi")
    child.logfile_read = io.StringIO()
    try:
        child.expect("ond")  # the live region shows the unfinished list
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        gate.set()
        child.close()
    raw = child.logfile_read.getvalue()
    assert child.exitstatus == 130
    assert screen_lines(raw) == ["Head".center(100).rstrip(), "", "before the interrupt", "",
                                 " • first item", " • second", "chat: interrupted"]
    assert "never" not in raw
    assert raw.rindex("\x1b[?25h") > raw.rindex("\x1b[?25l")
    assert not screen_of(raw).cursor.hidden


def test_error_in_terminal_is_one_line(chat, server):
    server.queue(fs.dashscope_error("invalid_api_key"))
    raw, status = run_in_pty(chat, "ask", "hi")
    assert status == 3
    lines = [line for line in screen_lines(raw) if line.strip()]  # red, wrapped at spaces, nothing cut
    assert "\x1b[31mchat: qwen: authentication failed" in raw
    assert lines[0].startswith("chat: qwen: authentication failed") and all(len(line) <= 100 for line in lines)
    assert " ".join(lines).endswith("check DASHSCOPE_API_KEY (request_id fake-request-id)")
