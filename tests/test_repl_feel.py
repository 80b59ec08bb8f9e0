"""How the interactive session feels in a real terminal: keys typed while an answer streams.

Through a pseudo-terminal only what needs one: the terminal's modes, what its echo would leave on
the screen, Ctrl-C as SIGINT. The key decoding and the queue's logic are tested in-process in
tests/test_typeahead.py.
"""

from __future__ import annotations

import os
import re
import threading

import pytest

from tests import fakeserver as fs
from tests.fakeserver import completions
from tests.ptyharness import ENTER, QWEN, Tty

CTRL_C, CTRL_D, CTRL_U, BACKSPACE = "\x03", "\x04", "\x15", "\x7f"

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc to watch the program read")


def held(server, gate: threading.Event, *chunks: str) -> None:
    """The next answer streams "partial answer", then waits for gate before the rest."""
    server.queue(fs.gated(fs.dashscope_text(["partial ", "answer", *chunks]), after=3, gate=gate))


def stream_held(tty: Tty, server, text: str, *chunks: str) -> threading.Event:
    """Send text; return once its answer shows "partial answer" and waits for the returned gate."""
    gate = threading.Event()
    held(server, gate, *chunks)
    tty.send(text + ENTER)
    tty.wait_text("partial answer")
    return gate


def same_numbers(screen: str) -> str:
    """The screen with the stats line's timings made equal across runs."""
    return re.sub(r"\d+(\.\d+)? (s|tok/s)\b", "N \\2", screen)


def test_keys_typed_mid_answer_leave_no_trace_and_wait_in_the_next_prompt(term, server):
    clean = term()
    clean.wait_prompt(QWEN)
    stream_held(clean, server, "slow one", " done.").set()
    clean.wait_for(lambda: clean.cursor_line() == QWEN, what="the next prompt")
    clean.wait_prompt(QWEN)

    tty = term()
    before = tty.stty()  # before the program has started (Python alone takes longer)
    assert {"icanon", "echo"} <= set(before.split()), before
    tty.wait_prompt(QWEN)
    gate = stream_held(tty, server, "slow one", " done.")
    during = tty.stty().split()
    assert {"-icanon", "-echo", "isig"} <= set(during), during
    tty.type_read(ENTER + ENTER + "hellp" + BACKSPACE + "o, 世界" + "\x1b[A" + "\x1b[12;1R" + CTRL_D)
    gate.set()
    tty.wait_for(lambda: tty.cursor_line() == f"{QWEN} hello, 世界", what="the type-ahead in the prompt")
    tty.wait_prompt(QWEN)
    typed, untouched = same_numbers(tty.text()), same_numbers(clean.text())
    assert typed.replace(f"{QWEN} hello, 世界", QWEN).splitlines() == untouched.splitlines(), typed
    assert len(completions(server)) == 2  # the Enters sent nothing
    tty.send(CTRL_U + CTRL_D)
    assert tty.wait_exit() == 0
    assert tty.stty() == before


def test_a_line_entered_mid_answer_is_queued_then_sent(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    gate = stream_held(tty, server, "slow one", " done.")
    server.queue(fs.dashscope_text(["first queued answer"]), fs.dashscope_text(["second queued answer"]))
    tty.type_read("next" + ENTER + "and then" + ENTER)
    gate.set()
    server.wait_responses(3, timeout=20)
    tty.wait_for(lambda: tty.cursor_line() == QWEN, what="an empty prompt after the queued answers")
    tty.wait_prompt(QWEN)
    assert b"queued: next" in tty.raw
    assert [r.json["messages"][-1]["content"] for r in completions(server)] == ["slow one", "next", "and then"]
    screen = tty.text()
    assert re.search(rf"^{QWEN} next\nfirst queued answer\n.*\n{QWEN} and then\nsecond queued answer$",
                     screen, re.MULTILINE), screen


def test_ctrl_c_mid_answer_drops_the_queue_and_the_type_ahead(term, server):
    tty = term()
    tty.wait_prompt(QWEN)
    gate = stream_held(tty, server, " never shown")
    tty.type_read("queued" + ENTER + "draft")
    tty.send(CTRL_C)
    tty.wait_text("interrupted")
    tty.wait_for(lambda: tty.cursor_line() == QWEN, what="an empty prompt")
    tty.wait_prompt(QWEN)
    gate.set()
    screen = tty.text()
    assert "^C" not in screen
    assert "\ninterrupted — what arrived is kept; /retry asks again\n" in screen, screen
    assert len(completions(server)) == 1
