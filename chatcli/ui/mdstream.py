"""Streamed markdown in a terminal: finished top-level blocks are printed once, only the last one is live.

`BlockSplitter` (chatcli.ui.blocks) says which blocks of the text so far can no longer change;
`MarkdownRenderer` prints those once and redraws just the tail, cropped from the bottom, in a
transient `rich.live.Live` at most every `interval` seconds. See notes/streaming-markdown.md.
Imported lazily (rich.markdown is slow to import).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from markdown_it import MarkdownIt
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment
from rich.text import Text

from chatcli.core.messages import (
    Event,
    Finish,
    Notice,
    ReasoningDelta,
    TextDelta,
    ToolCallEvent,
    ToolResult,
)
from chatcli.ui.blocks import SEPARATOR, BlockSplitter, last_chars, rich_parser
from chatcli.ui.lines import tool_line
from chatcli.ui.sanitize import Sanitizer, strip_controls

__all__ = ["CODE_THEME", "BlockSplitter", "MarkdownRenderer", "markdown"]

CODE_THEME = "monokai"
REFRESH_SECONDS = 0.1
SLOWDOWN = 20  # redraws may take at most 1/SLOWDOWN of the time
LIVE_LINES = 20  # the live region's height at most (and the screen's height - 2)


@functools.lru_cache(maxsize=1)
def _template() -> tuple[Markdown, MarkdownIt]:
    return Markdown("", code_theme=CODE_THEME, hyperlinks=False), rich_parser()


def markdown(source: str) -> Markdown:
    """The Rich renderable for model text: no hyperlinks, no markup, our code theme."""
    template, parser = _template()
    if not hasattr(template, "parsed"):  # pragma: no cover - a Rich that keeps its tokens elsewhere
        return Markdown(source, code_theme=CODE_THEME, hyperlinks=False)
    # Markdown() builds a new parser every time, a tenth of the renderer's CPU here: copy a built one
    # and fill in its public `markup` and `parsed` (what Markdown.__init__ sets from the source).
    # tests/test_mdstream.py::test_markdown_is_richs_markdown fails should Rich stop reading them.
    md = copy.copy(template)
    md.markup, md.parsed = source, parser.parse(source)
    return md


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


class _LiveView:
    """The live region: the bottom lines of the tail's render (or of the reasoning), never more."""

    def __init__(self, owner: MarkdownRenderer) -> None:
        self.owner = owner
        self._key: tuple[Any, ...] = ()
        self._lines: list[list[Segment]] = []

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        limit = self.owner.live_lines(options.size.height)
        key, renderable = self.owner.preview(limit)
        key = (*key, options.max_width, limit)
        if key != self._key:
            self._key, self._lines = key, []
            if renderable is not None:
                try:
                    lines = console.render_lines(renderable, options.update(height=None), pad=False)[-limit:]
                except Exception:  # a preview is not worth a crash; the final print has a fallback
                    lines = []
                self._lines = [_rstrip(line) for line in lines]
                room = options.max_width - 2  # for an echoed ^C: a line wrap would misplace the region
                if self._lines and Segment.get_line_length(self._lines[-1]) > room:
                    self._lines[-1] = Segment.adjust_line_length(self._lines[-1], room)
        new_line = Segment.line()
        for i, line in enumerate(self._lines):
            if i:
                yield new_line
            yield from line


class MarkdownRenderer:
    """Renders a stream of events as markdown on a Rich console; a live region only on a terminal.

    The refresh clock is injectable for benchmarks and tests; with the real clock a timer shows
    text that arrived during the last interval if the stream then pauses.

    Output is captured (`Console.begin_capture`) and written to the console's file here: Rich drops
    what it buffered only once a write succeeded, so after a write interrupted by Ctrl-C it would
    come out again with the next one. Kept here, `close()` can drop it instead.
    """

    def __init__(self, console: Console, *, show_reasoning: bool = True,
                 clock: Callable[[], float] | None = None, interval: float = REFRESH_SECONDS,
                 max_lines: int = LIVE_LINES) -> None:
        self.console = console
        self.show_reasoning = show_reasoning
        self.interval = interval
        self.max_lines = max_lines
        self._clock = clock or time.monotonic
        self._trailing = clock is None
        self._interactive = console.is_terminal and not console.is_dumb_terminal
        self._lock = threading.RLock()
        self._view = _LiveView(self)
        self._live: Live | None = None
        self._timer: threading.Timer | None = None
        # Legacy Windows consoles write through the win32 API, Jupyter displays, recording needs
        # Rich's own write: there, print directly (an interrupted write may then come out twice).
        self._direct = console.legacy_windows or console.is_jupyter or console.record
        self._capturing = False  # between begin_capture and a completed end_capture
        self._unwritten = ""  # rendered output whose write was interrupted: sent before the next
        self._reset()

    def _reset(self) -> None:
        self._splitter = BlockSplitter()
        self._text = Sanitizer()
        self._thinking = Sanitizer()
        self._reasoning: list[str] = []
        self._mode: str | None = None  # None, "reasoning" or "text"
        self._pending = ""  # a block being printed: printed again by close() if interrupted
        self._next = float("-inf")  # the time of the next allowed redraw
        self._dirty = False

    # --- events ---------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Show one stream event."""
        with self._lock:
            if isinstance(event, TextDelta):
                self._on_text(self._text.feed(event.text))
            elif isinstance(event, ReasoningDelta):
                self._on_reasoning(self._thinking.feed(event.text))
            elif isinstance(event, ToolResult):
                self.line(tool_line(event, self.console.width))
            elif isinstance(event, Notice):
                self.line(f"chat: {event.text}")
            elif isinstance(event, (ToolCallEvent, Finish)) and self._dirty:
                self._refresh(force=True)  # the stream pauses here: show what arrived

    def line(self, text: str) -> None:
        """One dim line between blocks (ends the current block)."""
        with self._lock:
            self._end_section()
            self._print(Text(strip_controls(text), style="dim"))

    def close(self) -> None:
        """Finish: clear the live region, then print what is left; safe to call again."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._capturing:  # end_capture itself was interrupted: drop what it held
                self._capturing = False
                self.console.end_capture()
            rest = [self._pending]  # a block whose printing was interrupted: printed whole below
            if self._pending:
                self._unwritten = ""
            try:
                if self._mode == "reasoning":
                    self._fold()
                elif self._mode == "text":
                    rest.append(self._take_tail())
            finally:
                live, self._live, self._mode = self._live, None, None
                try:
                    if live is not None:
                        with self._output():
                            live.stop()  # draws the now empty view once more, then erases it
                finally:
                    for block in filter(None, rest):
                        self._print_block(block)
                    self._reset()

    # --- text and reasoning -----------------------------------------------------------------

    def _on_text(self, text: str) -> None:
        if not text:
            return
        if self._mode == "reasoning":
            self._fold()
        self._mode = "text"
        self._start()
        block = self._splitter.feed(text)
        if block:
            self._print_block(block)  # the live view already shows the new, shorter tail
        else:
            self._refresh()

    def _on_reasoning(self, text: str) -> None:
        if not text or not self.show_reasoning or not self._interactive:
            return
        if self._mode == "text":
            self._end_section()
        self._mode = "reasoning"
        self._reasoning.append(text)
        self._start()
        self._refresh()

    def _fold(self) -> None:
        """Replace the reasoning shown so far by one dim line."""
        self._reasoning.append(self._thinking.flush())
        summary = " ".join("".join(self._reasoning).split())
        self._reasoning = []
        self._mode = None
        if summary:
            line = Text(f"reasoning: {summary}", style="dim")
            line.truncate(self.console.width, overflow="ellipsis")
            self._print(line)

    def _end_section(self) -> None:
        """Fold the reasoning or print the whole tail: the next text starts a new document."""
        if self._mode == "reasoning":
            self._fold()
        elif self._mode == "text":
            block = self._take_tail()
            self._mode = None
            if block:
                self._print_block(block)

    def _take_tail(self) -> str:
        """Markdown for everything not printed yet, as the last block."""
        self._splitter.feed(self._text.flush())
        return self._splitter.flush()

    # --- the terminal -----------------------------------------------------------------------

    def live_lines(self, height: int) -> int:
        """How many lines the live region may use on a screen of this height."""
        return max(1, min(self.max_lines, height - 2))

    def preview(self, lines: int) -> tuple[tuple[Any, ...], Any]:
        """A cache key and the renderable for the live region."""
        if self._mode == "reasoning":
            text = last_chars(self._reasoning, lines * self.console.width)
            return ("reasoning", text), Text(text, style="dim")
        if self._mode == "text":
            source = self._splitter.preview(lines + 4, 2 * lines * self.console.width)
            return ("text", source), markdown(source) if source else None
        return (), None

    def _start(self) -> None:
        if self._live is None and self._interactive:
            self._live = Live(self._view, console=self.console, auto_refresh=False, transient=True,
                              redirect_stdout=False, redirect_stderr=False)
            with self._output():
                self._live.start()

    def _refresh(self, force: bool = False) -> None:
        """Redraw the live region if it is time (else a timer does, should the stream pause)."""
        if self._live is None:
            return
        self._dirty = True
        now = self._clock()
        if force or now >= self._next:
            start = time.perf_counter()
            with self._output():
                self._live.refresh()
            # at most every interval, and slower if redraws are costly (a huge table or code block)
            self._next = now + max(self.interval, SLOWDOWN * (time.perf_counter() - start))
            self._dirty = False
        elif self._trailing and self._timer is None:
            self._timer = threading.Timer(self._next - now, self._on_timer)
            self._timer.daemon = True
            self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if self._live is not None and self._dirty:
                self._refresh(force=True)

    def _print_block(self, source: str) -> None:
        self._pending = source
        try:
            self._print(markdown(source))
        except Exception:  # never lose the answer to a rendering bug: show it as plain text
            self._print(Text(source.removeprefix(SEPARATOR)))
        self._pending = ""

    def _print(self, renderable: Any) -> None:
        """Print above the live region (Live's hook erases it first and redraws it after)."""
        with self._output():
            self.console.print(renderable, markup=False, highlight=False, emoji=False)
        if self._live is not None:
            self._next, self._dirty = self._clock() + self.interval, False

    @contextlib.contextmanager
    def _output(self) -> Iterator[None]:
        """Capture what Rich writes in this block, then write it; output of a failed block is dropped."""
        if self._direct:
            yield
            return
        console = self.console
        console.begin_capture()
        self._capturing = True
        try:
            yield
        finally:
            text = console.end_capture()
            self._capturing = False
        self._write(text)

    def _write(self, text: str) -> None:
        """Write to the terminal; if that is interrupted, the text goes out with the next write."""
        if self.console.quiet:
            return
        text, self._unwritten = self._unwritten + text, ""
        if not text:
            return
        file = self.console.file
        try:
            file.write(text)
            file.flush()
        except BrokenPipeError:
            self.console.on_broken_pipe()
        except BaseException:
            self._unwritten = text
            raise
