"""The terminal: the program's streams, whether each is a terminal, colour and width.

The one place that asks `isatty`, reads NO_COLOR and TERM, and writes escape codes of its own;
the rest of the program writes through a `Terminal`, the renderers or the REPL.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import IO, Any, TextIO

from chatcli.config.secrets import redact
from chatcli.ui.sanitize import strip_controls

DIM, RESET = "\x1b[2m", "\x1b[0m"
DEFAULT_WIDTH = 100


def is_terminal(stream: Any, environ: Mapping[str, str] | None = None) -> bool:
    """A real terminal that understands escape codes (not TERM=dumb)."""
    env = os.environ if environ is None else environ
    try:
        return bool(stream.isatty()) and env.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def use_color(stream: Any, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to style output for this stream (a terminal, no NO_COLOR)."""
    env = os.environ if environ is None else environ
    return is_terminal(stream, env) and not env.get("NO_COLOR")


def width_of(stream: Any) -> int:
    """The terminal's width in columns (DEFAULT_WIDTH if unknown)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return DEFAULT_WIDTH


def styled(text: str, stream: Any, environ: Mapping[str, str] | None = None) -> str:
    """Text dim if the stream shows colour, else as it is."""
    return f"{DIM}{text}{RESET}" if use_color(stream, environ) else text


def notice(message: str, err: TextIO, prefix: str = "chat: ", environ: Mapping[str, str] | None = None) -> None:
    """One line on stderr, dim on a terminal; control sequences and known secrets removed."""
    err.write(styled(f"{prefix}{strip_controls(redact(message))}", err, environ) + "\n")
    err.flush()


SHOW_CURSOR = "\x1b[?25h"  # DECTCEM


class Terminal:
    """The streams of one run (stdin, stdout, stderr) and what they are."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, stdin: IO[Any] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.stdin = stdin if stdin is not None else sys.stdin
        self.environ = os.environ if environ is None else environ

    def is_terminal(self, stream: Any = None) -> bool:
        """Whether stream (default: stdout) is a terminal that understands escape codes."""
        return is_terminal(self.out if stream is None else stream, self.environ)

    def interactive(self) -> bool:
        """Whether a person is typing: stdin is a terminal."""
        try:
            return bool(self.stdin.isatty())
        except (AttributeError, ValueError):
            return False

    def color(self, stream: Any = None) -> bool:
        """Whether stream (default: stdout) shows colour."""
        return use_color(self.out if stream is None else stream, self.environ)

    def width(self) -> int:
        """Columns of the terminal stdout is on."""
        return width_of(self.out)

    def say(self, text: str, dim: bool = True) -> None:
        """Lines for the user on stdout (dim on a terminal); control sequences and known secrets removed."""
        text = "\n".join(strip_controls(line) for line in redact(text).split("\n"))
        self.out.write((styled(text, self.out, self.environ) if dim else text) + "\n")
        self.out.flush()

    def notice(self, message: str, prefix: str = "chat: ") -> None:
        """A dim line on stderr."""
        notice(message, self.err, prefix, self.environ)

    def error(self, message: str) -> None:
        """The one line a failure prints on stderr: `chat: ...`, known secrets hidden."""
        line = f"chat: {strip_controls(redact(message))}"
        self.err.write(line + "\n")
        self.err.flush()

    def show_cursor(self) -> None:
        """Show the cursor again if stdout is a terminal: Rich's Live hides it, and a stop cut short may not."""
        if self.is_terminal():
            self.out.write(SHOW_CURSOR)
            self.out.flush()
