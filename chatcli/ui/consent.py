"""Asking the person at the terminal whether a tool may run: the question on stderr, the answer from /dev/tty.

Reading the terminal itself, never stdin: nothing piped into chat can approve a tool.
"""

from __future__ import annotations

import contextlib
from typing import IO, TYPE_CHECKING, Any

from chatcli.app.consent import shown_arguments
from chatcli.config.secrets import redact
from chatcli.ui.sanitize import strip_controls

if TYPE_CHECKING:
    from chatcli.app.consent import Asker
    from chatcli.core.messages import ToolCall
    from chatcli.tools.registry import Tool
    from chatcli.ui.terminal import Terminal

CHOICES = "[y]es / [a]lways this session / [n]o / [t]ell the model why"


def terminal_asker(term: Terminal, tty_path: str = "/dev/tty") -> Asker | None:
    """An asker for this terminal, or None when stderr is no terminal or there is no /dev/tty."""
    if not term.is_terminal(term.err):
        return None
    try:
        with open(tty_path, encoding="utf-8", errors="replace"):
            pass
    except OSError:
        return None

    def ask(tool: Tool, call: ToolCall) -> tuple[str, str]:
        with open(tty_path, encoding="utf-8", errors="replace") as tty:
            return ask_on(term.err, tty, tool, call)
    return ask


def ask_on(err: IO[str], tty: IO[str], tool: Tool, call: ToolCall) -> tuple[str, str]:
    """Ask until a known answer (end of input: no); return it with the reason for "t"."""
    where = f"{tool.server}/{tool.remote_name}" if tool.server else tool.name
    args = strip_controls(redact(shown_arguments(call.arguments)))
    err.write(f"chat: allow the tool {strip_controls(where)} {args}?\n")
    while True:
        err.write(f"  {CHOICES}: ")
        err.flush()
        line = _read(tty)
        if line is None:
            err.write("\n")
            return "n", ""
        answer = line.strip().lower()[:1]
        if answer in ("y", "a", "n"):
            return answer, ""
        if answer == "t":
            err.write("  why (sent to the model): ")
            err.flush()
            return "t", strip_controls(_read(tty) or "")


def _read(tty: Any) -> str | None:
    with contextlib.suppress(OSError, ValueError):
        line = tty.readline()
        return line if line else None
    return None
