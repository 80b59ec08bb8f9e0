"""Copying text to the clipboard: OSC 52 through the terminal, and the system's clipboard tool if there is one.

OSC 52 (`ESC ] 52 ; c ; <base64> BEL`) reaches the clipboard of the terminal the user sits at, over
SSH too; tmux passes it on with its `set-clipboard` option, so the plain sequence is right inside tmux
as well. Terminals cap its length, so a long text goes to the system tool only. The system tool
(wl-copy, xclip, xsel, pbcopy, clip.exe) covers terminals without OSC 52 on a local desktop.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatcli.ui.terminal import Terminal

OSC52_MAX = 100_000  # bytes of base64 most terminals take in one OSC 52 (xterm, kitty, tmux allow about this)
TOOL_TIMEOUT = 3.0  # seconds a clipboard tool may take

Run = Callable[..., Any]  # subprocess.run's shape
Which = Callable[[str], "str | None"]


@dataclass
class Copied:
    """What a copy reached: OSC 52 written, the tool that took the text, and what went wrong (dim lines)."""

    osc52: bool = False
    tool: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        """Whether the text went anywhere."""
        return self.osc52 or self.tool is not None


def osc52(text: str) -> str:
    """The OSC 52 sequence that puts text (as UTF-8) on the clipboard."""
    return f"\x1b]52;c;{_base64(text)}\a"


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def system_tool(environ: Mapping[str, str], platform: str = sys.platform,
                which: Which = shutil.which) -> list[str] | None:
    """The command line of the system's clipboard tool found on PATH, or None."""
    candidates: list[list[str]] = []
    if environ.get("WAYLAND_DISPLAY"):
        candidates.append(["wl-copy"])
    if environ.get("DISPLAY"):
        candidates += [["xclip", "-selection", "clipboard"], ["xsel", "-b", "-i"]]
    if platform == "darwin":
        candidates.append(["pbcopy"])
    if environ.get("WSL_DISTRO_NAME") or environ.get("WSL_INTEROP"):
        candidates.append(["clip.exe"])
    for argv in candidates:
        path = which(argv[0])
        if path:
            return [path, *argv[1:]]
    return None


def tool_input(argv: list[str], text: str) -> bytes:
    """The bytes a tool reads: UTF-8, except clip.exe, which reads UTF-16 with a byte order mark."""
    return text.encode("utf-16") if argv[0].lower().endswith("clip.exe") else text.encode("utf-8")


def copy(text: str, term: Terminal, *, environ: Mapping[str, str] | None = None, platform: str = sys.platform,
         which: Which = shutil.which, run: Run = subprocess.run) -> Copied:
    """Put text on the clipboard: OSC 52 when stdout is a terminal (and it fits), and the system tool."""
    env = term.environ if environ is None else environ
    done = Copied()
    if term.is_terminal():
        if len(_base64(text)) <= OSC52_MAX:
            term.control(osc52(text))
            done.osc52 = True
        else:
            done.problems.append(f"too long for the terminal's clipboard (OSC 52 takes about {OSC52_MAX // 1000} kB)")
    argv = system_tool(env, platform, which)
    if argv is not None:
        name = argv[0].rsplit("/", 1)[-1]
        problem = _run_tool(argv, tool_input(argv, text), run)
        if problem:
            done.problems.append(f"{name}: {problem}")
        else:
            done.tool = name
    return done


def _run_tool(argv: list[str], data: bytes, run: Run) -> str | None:
    """Run a clipboard tool with data on stdin; what went wrong, or None.

    Its output goes to /dev/null: xclip and wl-copy stay behind to serve the selection, and a pipe
    they hold open would keep us waiting.
    """
    try:
        proc = run(argv, input=data, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=TOOL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return f"no answer within {TOOL_TIMEOUT:g} s"
    except OSError as e:
        return e.strerror or str(e)
    return f"failed (exit {proc.returncode})" if proc.returncode else None
