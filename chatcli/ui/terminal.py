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
from chatcli.ui.cells import fit, wrap
from chatcli.ui.sanitize import strip_controls

DIM, RED, RESET = "\x1b[2m", "\x1b[31m", "\x1b[0m"  # SGR 2, 31, 0
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


def columns(stream: Any) -> int | None:
    """The width in columns of the terminal the stream is on, or None if it is not one (or will not say)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, ValueError, OSError):
        return None


def width_of(stream: Any) -> int:
    """The terminal's width in columns (DEFAULT_WIDTH if unknown)."""
    return columns(stream) or DEFAULT_WIDTH


def styled(text: str, stream: Any, environ: Mapping[str, str] | None = None) -> str:
    """Text dim if the stream shows colour, else as it is."""
    return f"{DIM}{text}{RESET}" if use_color(stream, environ) else text


def notice(message: str, err: TextIO, prefix: str = "chat: ", environ: Mapping[str, str] | None = None) -> None:
    """One line on stderr, dim and cut to its width on a terminal; control sequences and known secrets removed."""
    line = f"{prefix}{strip_controls(redact(message))}"
    width = columns(err) if is_terminal(err, environ) else None
    if width:
        line = fit(line, width)
    err.write(styled(line, err, environ) + "\n")
    err.flush()


def error_lines(message: str, err: TextIO, environ: Mapping[str, str] | None = None) -> str:
    """The text of a failure's `chat: ...` line for stderr: on a terminal red and wrapped at spaces, never cut."""
    line = f"chat: {strip_controls(redact(message))}"
    if not is_terminal(err, environ):
        return line + "\n"
    width = columns(err)
    lines = wrap(line, width) if width else [line]
    if use_color(err, environ):
        lines = [f"{RED}{text}{RESET}" for text in lines]
    return "\n".join(lines) + "\n"


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
        """Lines for the user on stdout (dim ones cut to the width on a terminal); controls and secrets removed."""
        lines = [strip_controls(line) for line in redact(text).split("\n")]
        width = columns(self.out) if dim and self.is_terminal() else None
        if width:
            lines = [fit(line, width) for line in lines]
        text = "\n".join(lines)
        self.out.write((styled(text, self.out, self.environ) if dim else text) + "\n")
        self.out.flush()

    def notice(self, message: str, prefix: str = "chat: ") -> None:
        """A dim line on stderr."""
        notice(message, self.err, prefix, self.environ)

    def error(self, message: str) -> None:
        """The line a failure prints on stderr: `chat: ...`, known secrets hidden; red and wrapped on a terminal."""
        self.err.write(error_lines(message, self.err, self.environ))
        self.err.flush()

    def control(self, sequence: str) -> None:
        """Write one escape sequence of ours (e.g. OSC 52 for the clipboard) to stdout, if it is a terminal."""
        if self.is_terminal():
            self.out.write(sequence)
            self.out.flush()

    def show_cursor(self) -> None:
        """Show the cursor again if stdout is a terminal: Rich's Live hides it, and a stop cut short may not."""
        if self.is_terminal():
            self.out.write(SHOW_CURSOR)
            self.out.flush()
