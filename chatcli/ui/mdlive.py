"""The live region of streamed markdown: the bottom lines of the unfinished part, then status lines."""

from __future__ import annotations

from typing import Any, Protocol

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.text import Text


class Owner(Protocol):
    """What the live region asks its renderer (chatcli.ui.mdstream.MarkdownRenderer)."""

    def live_lines(self, height: int) -> int: ...

    def preview(self, lines: int) -> tuple[tuple[Any, ...], Any]: ...

    def pinned(self) -> bool: ...

    def status_lines(self, width: int) -> list[Text]: ...


def _rstrip(line: list[Segment]) -> list[Segment]:
    """A rendered line without its trailing padding (spaces that show no colour or underline)."""
    line = list(line)
    while line:
        seg = line[-1]
        style = seg.style
        if seg.control or (style is not None and (style.bgcolor or style.underline or style.reverse)):
            break
        text = seg.text.rstrip(" ")
        if text:
            line[-1] = Segment(text, style)
            break
        line.pop()
    return line


def _crop(lines: list[list[Segment]], limit: int, pin: bool) -> list[list[Segment]]:
    """The bottom `limit` lines; with `pin`, a table's lines down to its header rule stay on top."""
    if len(lines) <= limit:
        return lines
    if pin:
        for i, line in enumerate(lines[: limit // 2]):
            text = "".join(seg.text for seg in line).strip()
            if text and not text.strip("─━═- "):
                return lines[: i + 1] + lines[len(lines) - (limit - i - 1):]
    return lines[-limit:]


class LiveView:
    """The live region: the bottom lines of the tail's render (or of the reasoning), then the status lines."""

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self._key: tuple[Any, ...] = ()
        self._lines: list[list[Segment]] = []

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        room = options.max_width - 2  # for an echoed ^C: a line wrap would misplace the region
        status = [console.render_lines(text, options.update(height=None), pad=False)[0]
                  for text in self.owner.status_lines(room)]
        limit = max(1, self.owner.live_lines(options.size.height) - len(status))
        key, renderable = self.owner.preview(limit)
        key = (*key, options.max_width, limit)
        if key != self._key:
            self._key, self._lines = key, []
            if renderable is not None:
                try:
                    lines = console.render_lines(renderable, options.update(height=None), pad=False)
                    lines = _crop(lines, limit, self.owner.pinned())
                except Exception:  # a preview is not worth a crash; the final print has a fallback
                    lines = []
                self._lines = [_rstrip(line) for line in lines]
                if self._lines and Segment.get_line_length(self._lines[-1]) > room:
                    self._lines[-1] = Segment.adjust_line_length(self._lines[-1], room)
        new_line = Segment.line()
        for i, line in enumerate([*self._lines, *status]):
            if i:
                yield new_line
            yield from line
