"""Streamed markdown in a terminal: finished top-level blocks are printed once, only the last one is live.

Only the last top-level block of a markdown document can still change. `BlockSplitter` parses the
complete lines of the uncommitted tail with the parser Rich uses and hands back the text before the
last top-level token; `MarkdownRenderer` prints that once and redraws just the tail, cropped from the
bottom, in a transient `rich.live.Live` at most every `interval` seconds. See
notes/streaming-markdown.md. Imported lazily (rich.markdown is slow to import).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
import time
from collections.abc import Callable
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
from chatcli.ui.lines import tool_line
from chatcli.ui.sanitize import Sanitizer, strip_controls

CODE_THEME = "monokai"
REFRESH_SECONDS = 0.1
SLOWDOWN = 20  # redraws may take at most 1/SLOWDOWN of the time
# Before a block, an empty HTML comment and a blank line make Rich emit the blank line it puts
# between the blocks of one document (after an hr it adds none: the rule carries its own).
SEPARATOR = "<!-- -->\n\n"
LIVE_LINES = 20  # the live region's height at most (and the screen's height - 2)


@functools.lru_cache(maxsize=1)
def _template() -> tuple[Markdown, MarkdownIt]:
    return Markdown("", code_theme=CODE_THEME, hyperlinks=False), MarkdownIt().enable("strikethrough").enable("table")


def markdown(source: str) -> Markdown:
    """The Rich renderable for model text: no hyperlinks, no markup, our code theme."""
    template, parser = _template()
    if not hasattr(template, "parsed"):  # pragma: no cover - a Rich that stores it differently
        return Markdown(source, code_theme=CODE_THEME, hyperlinks=False)
    md = copy.copy(template)  # Rich builds a new parser per Markdown: a tenth of the cost here
    md.markup, md.parsed = source, parser.parse(source)
    return md


def _line_start(text: str, n: int) -> int:
    """Offset of line n (0-based, lines split on "\\n" only, as the parser counts them)."""
    pos = 0
    for _ in range(n):
        pos = text.index("\n", pos) + 1
    return pos


def _may_close(line: str, char: str, size: int) -> bool:
    """Whether a line might close a fence of `size` `char`s (a superset of real closing lines)."""
    s = line.strip()
    return len(s) >= size and s == char * len(s)


def _last(parts: list[str], n: int) -> str:
    """The last n characters of the text in these pieces (kept apart: no copy on every piece)."""
    i, got = len(parts), 0
    while i and got < n:
        i -= 1
        got += len(parts[i])
    return "".join(parts[i:])[-n:]


class BlockSplitter:
    """The block-commit engine: feed text, get back markdown for the blocks that can no longer change."""

    def __init__(self) -> None:
        # Rich's parser, block rules only: the top-level tokens are the same, without inline work.
        self._md = MarkdownIt().enable("strikethrough").enable("table")
        self._md.disable(["inline", "text_join"], ignoreInvalid=True)
        self._clear()

    def _clear(self) -> None:
        self.done = ""  # the tail's complete lines
        self.part: list[str] = []  # the tail's last, unfinished line, in pieces
        self.last_type: str | None = None  # top-level token type of the last committed block
        self.tail_type: str | None = None  # type of the tail's first token at the last parse
        self._lines = 0  # complete lines in the tail
        self._parsed = 0  # complete lines at the last parse
        self._fence: tuple[str, int] | None = None  # the tail is this unclosed fence
        self._scanned = 0  # offset in done up to which lines were checked for a closing fence

    def feed(self, text: str) -> str:
        """Add text; return the markdown source of newly final blocks ("" if none)."""
        if "\n" not in text:
            self.part.append(text)
            return ""
        line = "".join(self.part) + text
        cut = line.rfind("\n") + 1
        self.done += line[:cut]
        self.part = [line[cut:]]
        self._lines += text.count("\n")
        if not self._worth_parsing():
            return ""
        return self._split()

    def _worth_parsing(self) -> bool:
        """Skip parses that cannot commit: inside an open fence, or too soon in a long block."""
        if self._fence is not None:
            char, size = self._fence
            lines = self.done[self._scanned:].split("\n")
            self._scanned = len(self.done)
            if not any(_may_close(line, char, size) for line in lines):
                return False
            self._fence = None
            return True
        # Reparsing a long block on every line would be quadratic; parse after it grew by 1/8.
        return self._lines - self._parsed >= max(1, self._lines // 8)

    def _split(self) -> str:
        """Parse the complete lines; commit everything before the last top-level token."""
        self._parsed = self._lines
        tops = [t for t in self._md.parse(self.done) if t.level == 0 and t.map]
        if not tops:
            return ""
        last = tops[-1]
        fence = None
        if last.type == "fence":
            if last.content.count("\n") == last.map[1] - last.map[0] - 2:  # type: ignore[index]
                return self._commit(self._lines, len(self.done), "fence", None)  # a closed fence is final
            fence = (last.markup[0], len(last.markup))
        source = ""
        if len(tops) > 1:
            offset = _line_start(self.done, last.map[0])  # type: ignore[index]
            source = self._commit(last.map[0], offset, tops[-2].type, last.type)  # type: ignore[index]
        else:
            self.tail_type = last.type
        if fence:
            self._fence, self._scanned = fence, len(self.done)
        return source

    def _commit(self, lines: int, offset: int, kind: str, next_kind: str | None) -> str:
        """Cut the first `lines` lines (ending at offset) off the tail and return them as a block."""
        source = self._source(self.done[:offset])
        self.done, self.last_type, self.tail_type = self.done[offset:], kind, next_kind
        self._lines -= lines
        self._parsed = 0
        self._fence = None
        return source

    def _source(self, block: str) -> str:
        """Markdown for a block printed on its own, spaced as inside the whole document."""
        if not block.strip():
            return ""
        return SEPARATOR + block if self.last_type not in (None, "hr") else block

    def flush(self) -> str:
        """The whole tail as the document's last block; the next text starts a new document."""
        source = self._source(self.done + "".join(self.part))
        self._clear()
        return source

    def preview(self, lines: int, chars: int) -> str:
        """Markdown for the live region: the tail, cut to about its last `lines` lines and `chars` characters."""
        done = self.done
        cut = len(done) - 1
        for _ in range(lines):
            cut = done.rfind("\n", 0, cut)
            if cut < 0:
                break
        text = done[cut + 1:] + _last(self.part, chars)
        if len(text) > chars:
            text = text[-chars:]
        elif cut < 0:
            return self._source(text)
        head = ""
        if self._fence is not None:  # keep the fence opener, or the rest shows as text
            head = done[: done.find("\n") + 1]
        elif self.tail_type == "table_open" and done.count("\n", 0, 400) >= 2:  # keep header and delimiter
            head = done[: _line_start(done, 2)]
        return self._source(head + text)


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


def _discard_unwritten(console: Console) -> None:
    """Drop what Rich buffered but never wrote (a write interrupted by Ctrl-C), or it comes out twice."""
    with contextlib.suppress(AttributeError):  # Rich's internals: nothing to do if they change
        del console._buffer[:]
        console._buffer_index = 0


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
            rest = [self._pending]  # a block whose printing was interrupted
            if self._pending:
                _discard_unwritten(self.console)
            try:
                if self._mode == "reasoning":
                    self._fold()
                elif self._mode == "text":
                    rest.append(self._take_tail())
            finally:
                live, self._live, self._mode = self._live, None, None
                try:
                    if live is not None:
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
            text = _last(self._reasoning, lines * self.console.width)
            return ("reasoning", text), Text(text, style="dim")
        if self._mode == "text":
            source = self._splitter.preview(lines + 4, 2 * lines * self.console.width)
            return ("text", source), markdown(source) if source else None
        return (), None

    def _start(self) -> None:
        if self._live is None and self._interactive:
            self._live = Live(self._view, console=self.console, auto_refresh=False, transient=True,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start()

    def _refresh(self, force: bool = False) -> None:
        """Redraw the live region if it is time (else a timer does, should the stream pause)."""
        if self._live is None:
            return
        self._dirty = True
        now = self._clock()
        if force or now >= self._next:
            start = time.perf_counter()
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
        self.console.print(renderable, markup=False, highlight=False, emoji=False)
        if self._live is not None:
            self._next, self._dirty = self._clock() + self.interval, False
