"""Showing an answer: raw text to a pipe, styled text to a terminal, notices to stderr."""

from __future__ import annotations

import os
from typing import Protocol, TextIO

from chatcli.messages import Event, ReasoningDelta, TextDelta
from chatcli.sanitize import Sanitizer, strip_controls

DIM, RESET = "\x1b[2m", "\x1b[0m"


def use_color(stream: TextIO) -> bool:
    """Whether to style output for this stream (a terminal, not TERM=dumb, no NO_COLOR)."""
    return is_terminal(stream) and not os.environ.get("NO_COLOR")


def is_terminal(stream: TextIO) -> bool:
    """A real terminal that understands escape codes."""
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class Renderer(Protocol):
    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...


class PlainRenderer:
    """The model's text exactly as it streams (control sequences removed); nothing else."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.text = Sanitizer()

    def handle(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.out.write(self.text.feed(event.text))
            self.out.flush()

    def close(self) -> None:
        self.out.write(self.text.flush())
        self.out.flush()


class TerminalRenderer:
    """A simple terminal view: reasoning dimmed, then the answer, ending on a fresh line."""

    def __init__(self, out: TextIO, color: bool = True, show_reasoning: bool = True) -> None:
        self.out = out
        self.color = color
        self.show_reasoning = show_reasoning
        self.text = Sanitizer()
        self.thinking = Sanitizer()
        self.in_reasoning = False
        self.at_line_start = True

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self.at_line_start = text.endswith("\n")

    def handle(self, event: Event) -> None:
        if isinstance(event, ReasoningDelta) and self.show_reasoning:
            if not self.in_reasoning:
                self.in_reasoning = True
                if self.color:
                    self.out.write(DIM)
            self._write(self.thinking.feed(event.text))
        elif isinstance(event, TextDelta):
            if self.in_reasoning:
                self._end_reasoning()
            self._write(self.text.feed(event.text))

    def _end_reasoning(self) -> None:
        self._write(self.thinking.flush())
        if self.color:
            self.out.write(RESET)
        self._write("\n\n" if not self.at_line_start else "\n")
        self.in_reasoning = False

    def close(self) -> None:
        if self.in_reasoning:
            self._end_reasoning()
        self._write(self.text.flush())
        if not self.at_line_start:
            self._write("\n")


def notice(message: str, err: TextIO) -> None:
    """One line on stderr, dim on a terminal."""
    line = f"chat: {strip_controls(message)}"
    if use_color(err):
        line = f"{DIM}{line}{RESET}"
    err.write(line + "\n")
    err.flush()
