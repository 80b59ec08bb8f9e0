"""SIGTERM, SIGHUP and Ctrl-C in a tool call: what is kept, the exit code, and the terminal afterwards.

The signal machinery in-process (chatcli.app.signals, the tool registry), then the real program:
`chat ask` and the session in a pseudo-terminal, reading the pty's modes with `stty -a` before and
after, and the conversation database.
"""

from __future__ import annotations

import _thread
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import termios
import threading
import time
import tty

import pytest

from chatcli.app.signals import deferred, terminating
from chatcli.core.messages import ToolCall
from chatcli.errors import Terminated
from chatcli.tools.registry import ToolRegistry, tool_from_function
from chatcli.ui.terminal import Terminal
from tests import fakeserver as fs
from tests.ptyharness import ENTER, QWEN, Tty, say
from tests.repl_harness import CTRL_C, ReplRig, preset_config

SHOW_CURSOR, HIDE_CURSOR = b"\x1b[?25h", b"\x1b[?25l"


# --- chatcli.app.signals in-process --------------------------------------------------------------

@pytest.fixture
def own_handlers():
    """Handlers of our own for SIGTERM and SIGHUP during the test (pytest's are put back after)."""
    def mine(signum, frame):
        raise AssertionError("the previous handler ran")
    saved = {s: signal.signal(s, mine) for s in (signal.SIGTERM, signal.SIGHUP)}
    yield mine
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_a_signal_raises_terminated_and_the_handlers_come_back(own_handlers):
    with pytest.raises(Terminated) as caught, terminating():
        assert signal.getsignal(signal.SIGTERM) is not own_handlers
        signal.raise_signal(signal.SIGTERM)
        pytest.fail("not raised")
    assert (caught.value.signum, caught.value.exit_code) == (signal.SIGTERM, 143)
    assert signal.getsignal(signal.SIGTERM) is own_handlers
    assert signal.getsignal(signal.SIGHUP) is own_handlers


def test_later_signals_and_failures_while_unwinding_still_end_in_the_first(own_handlers):
    saved = []
    with pytest.raises(Terminated) as caught, terminating():
        try:
            signal.raise_signal(signal.SIGHUP)
        finally:
            signal.raise_signal(signal.SIGTERM)  # ignored: the cleanup below must run
            saved.append("partial answer")
            raise OSError(5, "Input/output error")  # writing to a terminal that hung up
    assert saved == ["partial answer"]
    assert caught.value.exit_code == 129
    assert isinstance(caught.value.__cause__, OSError)


def test_deferred_hands_the_signal_over_then_raises(own_handlers):
    handed: list[int] = []
    with pytest.raises(Terminated) as caught, terminating():
        with deferred(handed.append):
            signal.raise_signal(signal.SIGTERM)
            assert handed == [signal.SIGTERM]  # not raised inside: the block ends itself
    assert caught.value.signum == signal.SIGTERM


def test_off_the_main_thread_nothing_is_installed(own_handlers):
    seen = []

    def work() -> None:
        with terminating():
            seen.append(signal.getsignal(signal.SIGTERM))
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [own_handlers]


def test_tty_modes_and_cursor_come_back(own_handlers):
    master, slave = os.openpty()
    with open(slave, "w") as out, open(os.dup(slave)) as stdin:
        before = termios.tcgetattr(slave)
        term = Terminal(out=out, err=out, stdin=stdin, environ={"TERM": "xterm"})
        with pytest.raises(Terminated), terminating(term):
            tty.setraw(slave)  # as a prompt would
            out.write(HIDE_CURSOR.decode())  # as Rich's Live does
            signal.raise_signal(signal.SIGHUP)
        assert termios.tcgetattr(slave) == before
    written = os.read(master, 1000)
    os.close(master)
    assert written.rindex(SHOW_CURSOR) > written.rindex(HIDE_CURSOR)


def test_a_signal_inside_the_prompts_event_loop_ends_the_prompt(own_handlers, tmp_path):
    rig = ReplRig(preset_config(tmp_path))
    toolbar, signalled, lost = rig.repl._toolbar, [], []

    def signalling_toolbar():  # drawn again after Ctrl-C arms the exit: inside one of the loop's callbacks
        if rig.repl.exit_armed and not signalled:
            signalled.append(True)
            signal.raise_signal(signal.SIGTERM)
        return toolbar()

    def give_up(signum, frame):
        # Raised in the handler, Terminated would reach prompt_toolkit's exception handler, which
        # waits for Enter on the real stdin: forever when that is not a terminal.
        lost.append(True)
        raise SystemExit("the signal was lost in prompt_toolkit's event loop")
    rig.repl._toolbar = signalling_toolbar  # type: ignore[method-assign]
    previous = signal.signal(signal.SIGUSR1, give_up)
    watchdog = threading.Timer(20, _thread.interrupt_main, args=(signal.SIGUSR1,))
    watchdog.start()
    try:
        rig.pipe.send_text(CTRL_C)
        with pytest.raises(Terminated), terminating():
            rig.repl.run()
    finally:
        watchdog.cancel()
        signal.signal(signal.SIGUSR1, previous)
        rig.close()
    assert signalled and not lost


# --- tool calls ----------------------------------------------------------------------------------

def test_ctrl_c_during_a_tool_call_returns_at_once_leaving_only_daemon_threads():
    started, release = threading.Event(), threading.Event()

    def slow_tool() -> str:
        """Waits."""
        started.set()
        release.wait(30)
        return "late"
    registry = ToolRegistry([tool_from_function(slow_tool)], timeout=60)
    threading.Thread(target=lambda: started.wait(10) and _thread.interrupt_main(), daemon=True).start()
    begun = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            list(registry.run_all([ToolCall("c1", "slow_tool", "{}")]))
        assert time.monotonic() - begun < 10  # not the tool's 30 s nor the 60 s timeout
        running = [t for t in threading.enumerate() if t.name.startswith("tool")]
        assert running and all(t.daemon for t in running)  # nothing the interpreter joins at exit
    finally:
        release.set()


# --- the real program ----------------------------------------------------------------------------

def stored(chat) -> list[tuple[str, str, int]]:
    """(role, content, interrupted) of every saved message, in order."""
    db = sqlite3.connect(os.path.join(chat.env["XDG_DATA_HOME"], "chatcli", "chat.db"))
    with contextlib.closing(db):
        return db.execute("SELECT role, coalesce(content, ''), interrupted FROM messages ORDER BY id").fetchall()


class PtyModes:
    """`stty -a` of the pty a Tty runs in, read through its slave side."""

    def __init__(self, tty_: Tty) -> None:
        path = f"/proc/{tty_.child.pid}/fd/0"
        if not os.path.exists(path):
            pytest.skip("needs /proc to find the pty")
        self.fd = os.open(os.readlink(path), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def stty(self) -> str:
        return subprocess.run(["stty", "-a"], stdin=self.fd, capture_output=True, text=True, check=True).stdout

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def term(chat):
    started: list[tuple[Tty, PtyModes]] = []

    def spawn(*args: str) -> tuple[Tty, PtyModes, str]:
        tty_ = Tty(chat.env, *args)
        modes = PtyModes(tty_)
        started.append((tty_, modes))
        before = modes.stty()  # before the program has started (Python alone takes longer)
        assert " echo " in f" {before} " and " icanon " in f" {before} ", before
        return tty_, modes, before

    yield spawn
    for tty_, modes in started:
        tty_.close()
        modes.close()


def held_answer(server, gate: threading.Event) -> None:
    """The next answer stops after "partial answer" until gate is set."""
    server.queue(fs.gated(fs.dashscope_text(["partial ", "answer", " never shown"]), after=3, gate=gate))


def test_ask_sigterm_mid_answer_keeps_it_and_shows_the_cursor(term, chat, server):
    gate = threading.Event()
    held_answer(server, gate)
    tty_, modes, before = term("ask", "hi")
    tty_.wait_text("partial answer")
    tty_.child.kill(signal.SIGTERM)
    assert tty_.wait_exit() == 143
    assert tty_.text().rstrip().splitlines()[-2:] == ["partial answer", "chat: terminated"]
    assert tty_.raw.rindex(SHOW_CURSOR) > tty_.raw.rindex(HIDE_CURSOR)
    assert modes.stty() == before
    assert stored(chat) == [("user", "hi", 0), ("assistant", "partial answer", 1)]


def test_ask_terminal_closed_mid_answer_keeps_it(chat, server):
    gate = threading.Event()
    held_answer(server, gate)
    tty_ = Tty(chat.env, "ask", "hi")
    try:
        tty_.wait_text("partial answer")
        tty_.child.ptyproc.fileobj.close()  # the window closes: SIGHUP, then every write fails (EIO)
        assert tty_.child.wait() == 129
    finally:
        gate.set()
        tty_.close()
    assert stored(chat) == [("user", "hi", 0), ("assistant", "partial answer", 1)]


def test_ask_sighup_before_the_answer_still_prints_json(chat, server):
    gate = threading.Event()
    server.queue(fs.gated(fs.dashscope_text(["never shown"]), after=0, gate=gate))
    proc = subprocess.Popen([sys.executable, "-m", "chatcli", "ask", "--json", "hi"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=chat.env)
    try:
        server.wait_requests(1, timeout=20)
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=20)
    finally:
        gate.set()
        proc.kill()
    assert proc.returncode == 129
    assert err.decode() == "chat: hung up\n"
    data = json.loads(out)
    assert data["error"] == {"type": "Terminated", "message": "hung up", "exit_code": 129}
    assert data["content"] == ""
    assert stored(chat) == [("user", "hi", 0)]


def hold_weather(server) -> tuple[threading.Event, threading.Event]:
    """The weather service takes the request and answers only when released."""
    reached, release = threading.Event(), threading.Event()

    def geocode(req):
        reached.set()
        release.wait(60)
        return fs.json_reply({"generationtime_ms": 0.1})
    server.route("/v1/search", geocode)
    return reached, release


def slow_tools(chat) -> None:
    """Timeouts far beyond the test's: a tool thread holding the process would show."""
    text = chat.config.read_text().replace("[tools.weather]", "[tools]\ntimeout = 120\n\n[tools.weather]")
    chat.config.write_text(text.replace("timeout = 2", "timeout = 120"))


WEATHER_CALL = [("w1", "get_current_weather", '{"location": "杭州"}')]


def test_ask_ctrl_c_during_a_tool_call_exits_at_once(chat, server):
    slow_tools(chat)
    reached, release = hold_weather(server)
    server.queue(fs.dashscope_tool_calls(WEATHER_CALL))
    proc = subprocess.Popen([sys.executable, "-m", "chatcli", "ask", "weather?"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=chat.env)
    try:
        assert reached.wait(20), "the tool never called the weather service"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)  # the tool's own timeout is 120 s
    finally:
        release.set()
        proc.kill()
    assert proc.returncode == 130
    assert err.decode() == "chat: interrupted\n"


def test_session_ctrl_c_in_a_tool_call_then_sighup_mid_answer(term, chat, server):
    slow_tools(chat)
    reached, release = hold_weather(server)
    gate = threading.Event()
    tty_, modes, before = term()
    try:
        tty_.wait_prompt(QWEN)
        server.queue(fs.dashscope_tool_calls(WEATHER_CALL))
        tty_.send("weather?" + ENTER)
        assert reached.wait(20), "the tool never called the weather service"
        tty_.send("\x03")
        tty_.wait_text("interrupted")
        tty_.wait_prompt(QWEN)  # at once: the tool is still waiting for the weather service
        held_answer(server, gate)
        tty_.send("slow one" + ENTER)
        tty_.wait_text("partial answer")
        tty_.child.kill(signal.SIGHUP)
        assert tty_.wait_exit() == 129
    finally:
        release.set()
        gate.set()
    assert tty_.text().rstrip().splitlines()[-1] == "chat: hung up"
    assert tty_.raw.rindex(SHOW_CURSOR) > tty_.raw.rindex(HIDE_CURSOR)
    assert modes.stty() == before
    rows = stored(chat)
    assert rows[0] == ("user", "weather?", 0)
    assert rows[-2:] == [("user", "slow one", 0), ("assistant", "partial answer", 1)]


def test_session_sigterm_at_the_prompt_restores_the_terminal(term, chat, server):
    tty_, modes, before = term()
    tty_.wait_prompt(QWEN)
    say(tty_, server, "hello", fs.dashscope_text(["hi there"]))
    at_prompt = modes.stty()
    assert " -echo " in f" {at_prompt} " and " -icanon " in f" {at_prompt} "  # prompt_toolkit's raw mode
    tty_.child.kill(signal.SIGTERM)
    assert tty_.wait_exit() == 143
    assert tty_.text().rstrip().splitlines()[-1] == "chat: terminated"
    assert modes.stty() == before
    assert stored(chat) == [("user", "hello", 0), ("assistant", "hi there", 0)]
