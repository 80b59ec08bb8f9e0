"""The clipboard mechanics (repl/clipboard.py): the OSC 52 sequence, finding the system's tool, running it."""

from __future__ import annotations

import io
import subprocess
from typing import Any

import pytest

from chatcli.repl import clipboard
from chatcli.ui.terminal import Terminal
from tests.repl_harness import TerminalText

TOOLS = {"wl-copy", "xclip", "xsel", "pbcopy", "clip.exe"}


def on_path(*names: str) -> clipboard.Which:
    """A `which` that finds exactly these tools, in /usr/bin."""
    return lambda name: f"/usr/bin/{name}" if name in names else None


class Runs:
    """A fake subprocess.run that records what it was asked and answers with a status (or raises)."""

    def __init__(self, status: int = 0, raises: BaseException | None = None) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.status, self.raises = status, raises

    def __call__(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
        self.calls.append((argv, kw))
        if self.raises is not None:
            raise self.raises
        return subprocess.CompletedProcess(argv, self.status)


def term(tty: bool = True) -> Terminal:
    return Terminal(out=TerminalText() if tty else io.StringIO(), err=io.StringIO(), environ={"TERM": "xterm"})


def test_osc52_is_the_base64_of_the_utf8_text_between_esc_52_and_bel():
    assert clipboard.osc52("print('你好')\n") == "\x1b]52;c;cHJpbnQoJ+S9oOWlvScpCg==\a"


def test_copy_writes_osc52_to_a_terminal_and_nothing_else_without_a_tool():
    t = term()
    done = clipboard.copy("abc", t, environ={}, which=on_path(*TOOLS), run=Runs())
    assert t.out.getvalue() == "\x1b]52;c;YWJj\a"  # type: ignore[attr-defined]
    assert (done.osc52, done.tool, done.problems, done.reached) == (True, None, [], True)


def test_no_osc52_when_stdout_is_not_a_terminal():
    t = term(tty=False)
    done = clipboard.copy("abc", t, environ={}, which=on_path(*TOOLS), run=Runs())
    assert t.out.getvalue() == ""  # type: ignore[attr-defined]
    assert not done.reached


def test_a_text_too_long_for_osc52_goes_only_to_the_tool_and_says_so():
    t, runs = term(), Runs()
    text = "x" * (clipboard.OSC52_MAX * 3 // 4 + 3)  # base64 one block over the cap
    done = clipboard.copy(text, t, environ={"DISPLAY": ":0"}, which=on_path("xclip"), run=runs)
    assert t.out.getvalue() == ""  # type: ignore[attr-defined]
    assert done.tool == "xclip" and not done.osc52
    assert done.problems == ["too long for the terminal's clipboard (OSC 52 takes about 100 kB)"]
    assert runs.calls[0][1]["input"] == text.encode()


def test_the_longest_text_that_fits_still_goes_by_osc52():
    t = term()
    done = clipboard.copy("x" * (clipboard.OSC52_MAX * 3 // 4), t, environ={}, which=on_path(), run=Runs())
    assert done.osc52 and len(t.out.getvalue()) == clipboard.OSC52_MAX + len("\x1b]52;c;\a")  # type: ignore[attr-defined]


@pytest.mark.parametrize("environ, platform, found, expected", [
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", TOOLS, ["/usr/bin/wl-copy"]),
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", {"xclip"}, ["/usr/bin/xclip", "-selection", "clipboard"]),
    ({"DISPLAY": ":0"}, "linux", {"xsel", "wl-copy"}, ["/usr/bin/xsel", "-b", "-i"]),
    ({}, "darwin", TOOLS, ["/usr/bin/pbcopy"]),
    ({"WSL_DISTRO_NAME": "Ubuntu"}, "linux", TOOLS, ["/usr/bin/clip.exe"]),
    ({}, "linux", TOOLS, None),  # a console or SSH session: OSC 52 only
    ({"DISPLAY": ":0"}, "linux", set(), None),
])
def test_the_system_tool_follows_the_session(environ, platform, found, expected):
    assert clipboard.system_tool(environ, platform, on_path(*found)) == expected


def test_the_tool_gets_the_text_on_stdin_with_a_timeout_and_no_pipes_to_hold_open():
    runs = Runs()
    done = clipboard.copy("héllo", term(tty=False), environ={"WAYLAND_DISPLAY": "w"}, which=on_path("wl-copy"),
                          run=runs)
    [(argv, kw)] = runs.calls
    assert argv == ["/usr/bin/wl-copy"]
    assert kw["input"] == "héllo".encode()
    assert kw["timeout"] == clipboard.TOOL_TIMEOUT
    assert kw["stdout"] == kw["stderr"] == subprocess.DEVNULL
    assert (done.tool, done.reached) == ("wl-copy", True)


def test_clip_exe_reads_utf16():
    runs = Runs()
    clipboard.copy("你好", term(tty=False), environ={"WSL_INTEROP": "/run/x"}, which=on_path("clip.exe"), run=runs)
    assert runs.calls[0][1]["input"].decode("utf-16") == "你好"


@pytest.mark.parametrize("runs, problem", [
    (Runs(status=1), "xclip: failed (exit 1)"),
    (Runs(raises=subprocess.TimeoutExpired(["xclip"], 3)), "xclip: no answer within 3 s"),
    (Runs(raises=PermissionError(13, "Permission denied")), "xclip: Permission denied"),
])
def test_a_failing_tool_is_a_problem_not_an_exception(runs, problem):
    t = term()
    done = clipboard.copy("abc", t, environ={"DISPLAY": ":0"}, which=on_path("xclip"), run=runs)
    assert done.problems == [problem]
    assert (done.osc52, done.tool, done.reached) == (True, None, True)
