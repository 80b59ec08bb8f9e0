"""Showing an answer: raw text to a pipe, styled text to a terminal, notices to stderr."""

from __future__ import annotations

import json
import os
from typing import Protocol, TextIO

from chatcli.messages import Event, Notice, ReasoningDelta, TextDelta, ToolResult
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


def tool_line(result: ToolResult, width: int = 100) -> str:
    """One line about a finished tool call: name, arguments, a short result, duration."""
    try:
        args = json.loads(result.call.arguments or "{}")
        shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    except (ValueError, AttributeError):
        shown = result.call.arguments
    try:
        data = json.loads(result.content)
        brief = f"error: {data['error']}" if isinstance(data, dict) and "error" in data else \
            json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError):
        brief = result.content
    line = f"⚙ {result.call.name}({shown}) → {brief}"
    line = strip_controls(" ".join(line.split()))
    if len(line) > width - 10:
        line = line[: width - 11] + "…"
    return f"{line} ({result.seconds:.1f} s)"


class PlainRenderer:
    """The model's text exactly as it streams (control sequences removed); decoration only on stderr."""

    def __init__(self, out: TextIO, err: TextIO | None = None) -> None:
        self.out = out
        self.err = err
        self.progress = err is not None and is_terminal(err)
        self.text = Sanitizer()

    def handle(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.out.write(self.text.feed(event.text))
            self.out.flush()
        elif isinstance(event, ToolResult) and self.progress:
            notice(tool_line(event), self.err, prefix="")  # type: ignore[arg-type]
        elif isinstance(event, Notice) and self.err is not None:
            notice(event.text, self.err)

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
        elif isinstance(event, ToolResult):
            self._line(tool_line(event))
        elif isinstance(event, Notice):
            self._line(f"chat: {event.text}")

    def _line(self, text: str) -> None:
        """A dim line of its own, between pieces of the answer."""
        if self.in_reasoning:
            self._end_reasoning()
        self._write(self.text.flush())
        if not self.at_line_start:
            self._write("\n")
        self._write(f"{DIM}{text}{RESET}\n" if self.color else f"{text}\n")

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


def notice(message: str, err: TextIO, prefix: str = "chat: ") -> None:
    """One line on stderr, dim on a terminal."""
    line = f"{prefix}{strip_controls(message)}"
    if use_color(err):
        line = f"{DIM}{line}{RESET}"
    err.write(line + "\n")
    err.flush()
