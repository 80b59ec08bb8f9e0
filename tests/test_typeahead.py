"""Type-ahead in-process: decoding a terminal's keys, reading them from a pty, and the REPL's queue.

Also the prompt's own small things: the toolbar's width, the exit hint, Ctrl-X Ctrl-E, the banner.
tests/test_repl_feel.py checks the same through a real terminal, where only a terminal can tell.
"""

from __future__ import annotations

import io
import os
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatcli.app.attachments import Attachment
from chatcli.core.messages import Event, TextDelta
from chatcli.errors import ServerError, Terminated
from chatcli.repl.loop import LEAVE_HINT, fit_parts
from chatcli.repl.typeahead import KeyReader, QueueStatus, TypeAhead, reading
from tests.repl_harness import CTRL_C, CTRL_D, ENTER, ReplRig, preset_config

BACKSPACE = "\x7f"


@pytest.fixture(autouse=True)
def plain_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", "1")


def decoded(*chunks: bytes) -> TypeAhead:
    keys = TypeAhead()
    for chunk in chunks:
        keys.feed(chunk)
    return keys


# --- decoding ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, line", [
    (b"hello", "hello"),
    (b"a\x1b[Ab\x1b[12;40Rc\x1bOPd\x1b[1;5De\x1b[3~f", "abcdef"),  # arrows, a CPR answer, F1, Ctrl-Left, Del
    (b"abc\x7f\x08d", "ad"),
    (b"abc\x15de", "de"),
    (b"hello big world\x17", "hello big "),
    (b"a\x04\tb\x00\x1b", "ab"),  # Ctrl-D, Tab, NUL ignored; a lone Esc waits
    (b"\x1bxab", "ab"),  # Alt-x
    (b"\x1b[\x7fx", "x"),  # not a sequence after all: the key after it counts
    ("你好世界\x7f".encode(), "你好世"),
    (b"draft\x03more", "more"),  # Ctrl-C read as a key drops everything
])
def test_keys_make_the_line(data, line):
    assert decoded(data).line == line


def test_utf8_split_across_reads_is_kept_whole():
    data = "中文输入，再见".encode()
    assert decoded(*(data[i:i + 1] for i in range(len(data)))).line == "中文输入，再见"


def test_enter_queues_lines_in_order_and_blank_ones_are_dropped():
    keys = decoded(b"one\rtwo\n", b"\r  \r\n", b"thr", b"ee")
    assert (keys.queued, keys.line) == (["one", "two"], "three")
    assert keys.next_message() == "one"
    assert keys.take_all() == "two\nthree"
    assert (keys.queued, keys.line, keys.next_message()) == ([], "", None)


def test_paste_and_esc_enter_keep_newlines_in_one_message():
    keys = decoded(b"\x1b[200~line 1\rline 2\x1b[201~\r", b"first\x1b\rsecond\r", b"\x1b[200~x\x1b", b"[201~")
    assert keys.queued == ["line 1\nline 2", "first\nsecond"]
    assert keys.take_line() == "x" and keys.line == ""


def test_queue_status_shows_the_queue_only_between_start_and_stop():
    keys, shown = TypeAhead(), []
    status = QueueStatus(keys, shown.append, lambda text: text[:20])
    keys.feed(b"early\r")
    status.update()  # before start: nothing (the renderer may not be drawing yet)
    assert shown == []
    status.start()
    keys.feed(b"draft")
    status.update()  # the line being typed shows after the queue
    keys.feed(b"\ra much longer second line\r")
    status.update()
    assert shown == ["queued: early", "queued: early · typi", "queued: early · draf"]  # fitted to the width
    assert status.up_to_date()
    status.stop()
    keys.feed(b"late\r")
    status.update()
    assert shown[-1] is None and len(shown) == 4
    assert not status.up_to_date()  # so the caller says so another way


# --- reading a terminal --------------------------------------------------------------------------

@pytest.fixture
def pty() -> Iterator[tuple[int, io.TextIOWrapper]]:
    """(master fd, the slave side opened as stdin would be)."""
    master, slave = os.openpty()
    stdin = open(slave, encoding="utf-8")
    yield master, stdin
    stdin.close()
    os.close(master)


def test_reader_takes_keys_without_echo_keeps_isig_and_restores_the_modes(pty):
    master, stdin = pty
    before = termios.tcgetattr(stdin)
    keys, fed = TypeAhead(), threading.Event()
    with pytest.raises(Terminated), reading(stdin, keys, fed.set) as reader:
        assert isinstance(reader, KeyReader)
        lflag = termios.tcgetattr(stdin)[3]
        assert not lflag & (termios.ICANON | termios.ECHO) and lflag & termios.ISIG
        os.write(master, "next\r你".encode())
        assert fed.wait(10)
        while keys.line != "你":  # the second byte may come in a second read
            fed.clear()
            assert fed.wait(10)
        raise Terminated(15)  # SIGTERM mid-answer
    assert termios.tcgetattr(stdin) == before
    assert keys.queued == ["next"]
    assert not [t for t in threading.enumerate() if t.name == "type-ahead"]


def test_keys_typed_after_the_reader_stops_stay_for_the_next_reader(pty):
    master, stdin = pty
    with reading(stdin, TypeAhead()):
        pass
    os.write(master, b"later\n")
    assert os.read(stdin.fileno(), 100) == b"later\n"  # canonical again: the line is there, whole


def test_without_a_terminal_nothing_is_read(tmp_path):
    with reading(io.StringIO(), TypeAhead()) as reader:
        assert reader is None
    r, w = os.pipe()
    with open(r) as pipe, reading(pipe, TypeAhead()) as reader:
        assert reader is None
    os.close(w)


# --- the REPL's queue ----------------------------------------------------------------------------

@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ReplRig]:
    made = ReplRig(preset_config(tmp_path))
    yield made
    made.close()


def on_a_terminal(rig: ReplRig, stdin: io.TextIOWrapper) -> None:
    rig.term.stdin = stdin  # a person types on the pty; the answers still go to the captured streams


def typing_midway(master: int, rig: ReplRig, keys: bytes, until: Callable[[TypeAhead], bool],
                  end: BaseException | None = None) -> Callable[[], Iterator[Event]]:
    """An answer that streams a little, has keys typed (and read), then ends or fails with end."""
    def start() -> Iterator[Event]:
        yield TextDelta("partial ")
        os.write(master, keys)
        deadline = time.monotonic() + 10
        while not until(rig.repl.typeahead):  # the reader thread takes them in a moment
            assert time.monotonic() < deadline, rig.repl.typeahead.__dict__
            time.sleep(0.01)
        if end is not None:
            raise end
        yield TextDelta("answer")
    return start


def test_lines_entered_during_an_answer_are_sent_next_then_the_draft_waits_in_the_prompt(rig, pty):
    master, stdin = pty
    on_a_terminal(rig, stdin)
    rig.qwen.enqueue("one", "two", "three")
    rig.repl.answer(typing_midway(master, rig, "first q\rsecond q\r草稿".encode(),
                                  lambda k: len(k.queued) == 2 and k.line == "草稿"))
    assert "queued: first q\nqueued: second q\n" in rig.err.getvalue()  # no renderer.status here
    rig.run(keys=ENTER)  # sends the draft the prompt starts with
    assert [r.messages[-1].content for r in rig.qwen.requests] == ["first q", "second q", "草稿"]
    assert "partial answer\nqwen:qwen-plus> first q\none\nqwen:qwen-plus> second q\ntwo\nthree\n" == rig.said()


def test_ctrl_c_drops_what_was_typed_and_a_failure_puts_it_back_in_the_prompt(rig, pty):
    master, stdin = pty
    on_a_terminal(rig, stdin)
    rig.repl.answer(typing_midway(master, rig, b"queued\rdraft", lambda k: k.line == "draft", KeyboardInterrupt()))
    assert "interrupted — what arrived is kept; /retry asks again\n" in rig.err.getvalue()
    assert (rig.repl.typeahead.queued, rig.repl.typeahead.line) == ([], "")
    failed = ServerError("qwen: server error (HTTP 500)", status=500)
    rig.repl.answer(typing_midway(master, rig, b"q\rdraft", lambda k: k.line == "draft", failed))
    rig.qwen.enqueue("ok")
    rig.run(keys=ENTER)
    assert [r.messages[-1].content for r in rig.qwen.requests] == ["q\ndraft"]  # sent only with Enter


# --- the prompt ----------------------------------------------------------------------------------

def test_the_toolbar_fits_60_columns(rig, tmp_path):
    rig.session.flags.think, rig.session.flags.search = True, False
    rig.repl.attached = [Attachment("file", str(tmp_path / "notes.txt"), 14)]
    full = "".join(text for _, text in rig.repl._toolbar(200))
    assert full == " context 0/122.9k · tokens used 0 · tools on · 1 attached · think on · search off · /help"
    narrow = "".join(text for _, text in rig.repl._toolbar(60))
    assert len(narrow) < 60 and narrow.startswith(" context 0/122.9k · ") and "1 attached" in narrow
    assert fit_parts([(0, "x" * 80), (1, "y")], 59) == " " + "x" * 57 + "…"
    assert fit_parts([(3, "chatcli"), (0, "qwen:qwen-plus"), (1, "/help for commands"), (2, "Ctrl-D to leave")],
                        59, lead="") == "qwen:qwen-plus · /help for commands · Ctrl-D to leave"  # the banner


def test_ctrl_c_on_an_empty_line_says_how_to_leave_and_typing_takes_it_back(rig):
    rig.qwen.enqueue("ok")
    assert rig.run(keys=f"{CTRL_C}x{BACKSPACE}{CTRL_C}sent{ENTER}") == 0  # not left: typing disarmed
    assert [r.messages[-1].content for r in rig.qwen.requests] == ["sent"]
    rig.repl.exit_armed = True
    assert "".join(text for _, text in rig.repl._toolbar(60)) == " " + LEAVE_HINT
    assert LEAVE_HINT == "press Ctrl-C again or Ctrl-D to leave"


def test_ctrl_x_ctrl_e_edits_the_line_in_visual(rig, tmp_path, monkeypatch):
    done = tmp_path / "edited"
    editor = tmp_path / "editor.py"
    editor.write_text(f"import sys\np = sys.argv[1]\ntext = open(p).read()\n"
                      f"open(p, 'w').write(text + ' and more from the editor\\n')\nopen({str(done)!r}, 'w')\n",
                      encoding="utf-8")
    monkeypatch.setenv("VISUAL", f"{sys.executable} {editor}")
    monkeypatch.setenv("EDITOR", "false")
    rig.qwen.enqueue("ok")

    def enter_when_edited() -> None:  # a person presses Enter once the editor has closed
        deadline = time.monotonic() + 20
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        rig.pipe.send_text(ENTER + CTRL_D)
    threading.Thread(target=enter_when_edited, daemon=True).start()
    rig.run(keys="draft\x18\x05", end="")
    assert rig.qwen.requests[0].messages[-1].content == "draft and more from the editor"


def test_banner_then_a_missing_key(rig, monkeypatch):
    monkeypatch.delenv(rig.session.provider_config.api_key_env, raising=False)
    rig.repl.greet(None)
    assert rig.said() == "chatcli · qwen:qwen-plus · /help for commands · Ctrl-D to leave\n"
    assert rig.chat_lines() == [f"chat: no API key for qwen: set {rig.session.provider_config.api_key_env} "
                                "or providers.qwen.api_key_cmd"]
