"""Streamed markdown in a terminal: what is final is printed once, only the rest is live.

`BlockSplitter` (chatcli.ui.blocks) says which blocks of the text so far can no longer change (and
which lines of a long code fence or items of a long list); `MarkdownRenderer` prints those once and
redraws just the tail, cropped from the bottom (a table keeps its header at the top), in a transient
`rich.live.Live` at most every `interval` seconds, with a status line below it. See
notes/streaming-markdown.md. Imported lazily (rich.markdown is slow to import).

The final scrollback equals rendering the whole answer once, with two known exceptions: a
reference-style link defined after its use stays unresolved in what was printed before, and a code
line printed before a later line changes how it lexes keeps its first colours (mdelements.CodeLines).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.live import Live
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
from chatcli.ui.blocks import SEPARATOR, BlockSplitter, Commit, last_chars
from chatcli.ui.lines import tool_line
from chatcli.ui.mdelements import CODE_THEME, CodeLines, code_lines, markdown
from chatcli.ui.mdlive import LiveView
from chatcli.ui.sanitize import Sanitizer, strip_controls

__all__ = ["CODE_THEME", "BlockSplitter", "MarkdownRenderer", "markdown"]

REFRESH_SECONDS = 0.1
SPIN_SECONDS = 0.1  # how often the `thinking…` line's seconds are redrawn
MAX_CONTEXT = 200  # lines of an open fence lexed again before new ones, at most (see CodeLines)
SLOWDOWN = 20  # redraws may take at most 1/SLOWDOWN of the time
LIVE_LINES = 20  # the live region's height at most (and the screen's height - 2)


class MarkdownRenderer:
    """Renders a stream of events as markdown on a Rich console; a live region only on a terminal.

    The refresh clock is injectable for benchmarks and tests; with the real clock a timer shows
    text that arrived during the last interval if the stream then pauses. hard_breaks: a single
    newline in the text is a line break (else a space, as in CommonMark).

    Output is captured (`Console.begin_capture`) and written to the console's file here: Rich drops
    what it buffered only once a write succeeded, so after a write interrupted by Ctrl-C it would
    come out again with the next one. Kept here, `close()` can drop it instead.
    """

    def __init__(self, console: Console, *, show_reasoning: bool = True,
                 clock: Callable[[], float] | None = None, interval: float = REFRESH_SECONDS,
                 max_lines: int = LIVE_LINES, hard_breaks: bool = True) -> None:
        self.console = console
        self.show_reasoning = show_reasoning
        self.interval = interval
        self.max_lines = max_lines
        self.hard_breaks = hard_breaks
        self._clock = clock or time.monotonic
        self._trailing = clock is None
        self._interactive = console.is_terminal and not console.is_dumb_terminal
        self._lock = threading.RLock()
        self._view = LiveView(self)
        self._live: Live | None = None
        self._timer: threading.Timer | None = None
        self._since: float | None = None  # waiting() for the first event since then
        self._spinning: threading.Event | None = None  # set to stop the spinner's thread
        self._status: str | None = None
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
        self._pending: Commit | None = None  # a commit being printed: printed again by close() if interrupted
        self._codes = 0  # code blocks printed so far in this answer (their labels go on counting)
        self._context: list[str] = []  # lines of the open fence since one ended outside a string or comment
        self._next = float("-inf")  # the time of the next allowed redraw
        self._dirty = False

    # --- events ---------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Show one stream event."""
        with self._lock:
            # a notice (retrying…) is shown above the spinner, which goes on until the answer begins
            content = isinstance(event, (TextDelta, ReasoningDelta)) and bool(event.text)
            stopped = (content or not isinstance(event, (TextDelta, ReasoningDelta, Notice))) and self._stop_waiting()
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
            if stopped and self._dirty:
                self._refresh(force=True)  # the `thinking…` line goes at once

    def line(self, text: str) -> None:
        """One dim line between blocks (ends the current block), cut to the width with `…`; a spinner goes on."""
        with self._lock:
            self._end_section()
            for part in strip_controls(text).expandtabs(4).split("\n"):
                line = Text(part, style="dim", no_wrap=True)
                line.truncate(self.console.width, overflow="ellipsis")
                self._print(line)

    def waiting(self) -> None:
        """Show a dim `thinking… 2.1 s` line in the live region until the first event (terminal only)."""
        with self._lock:
            if not self._interactive:
                return
            self._since = self._clock()
            self._start()
            self._refresh(force=True)
            if self._spinning is None:
                self._spinning = threading.Event()
                threading.Thread(target=self._spin, args=(self._spinning,), daemon=True).start()

    def status(self, text: str | None) -> None:
        """Keep a dim line at the bottom of the live region (None clears it); never in the scrollback."""
        with self._lock:
            if not self._interactive or text == self._status:
                return
            self._status = None if text is None else " ".join(strip_controls(text).split())
            if text is not None:
                self._start()
            self._refresh(force=True)

    def status_lines(self, width: int) -> list[Text]:
        """The spinner's and the status's lines, cut to this width."""
        lines = []
        if self._since is not None:
            lines.append(Text(f"thinking… {max(0.0, self._clock() - self._since):.1f} s", style="dim"))
        if self._status:
            lines.append(Text(self._status, style="dim"))
        for line in lines:
            line.truncate(max(1, width), overflow="ellipsis")
        return lines

    def _spin(self, stop: threading.Event) -> None:
        """The spinner's thread: redraw its seconds until the first event."""
        while not stop.wait(SPIN_SECONDS):
            with self._lock:
                if stop.is_set() or self._since is None:
                    return
                self._refresh(force=True)

    def _stop_waiting(self) -> bool:
        """End the `thinking…` line; whether it was shown."""
        if self._spinning is not None:
            self._spinning.set()
            self._spinning = None
        if self._since is None:
            return False
        self._since = None
        self._dirty = True
        return True

    def close(self) -> None:
        """Finish: clear the live region, then print what is left; safe to call again."""
        with self._lock:
            self._stop_waiting()
            self._status = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._capturing:  # end_capture itself was interrupted: drop what it held
                self._capturing = False
                self.console.end_capture()
            rest = [self._pending]  # a commit whose printing was interrupted: printed whole below
            if self._pending:
                self._unwritten = ""
            try:
                if self._mode == "reasoning":
                    self._fold()
                elif self._mode == "text":
                    rest += self._take_tail()
            finally:
                live, self._live, self._mode = self._live, None, None
                try:
                    if live is not None:
                        with self._output():
                            live.stop()  # draws the now empty view once more, then erases it
                finally:
                    for commit in filter(None, rest):
                        self._print_commit(commit)
                    self._reset()

    # --- text and reasoning -----------------------------------------------------------------

    def _on_text(self, text: str) -> None:
        if not text:
            return
        if self._mode == "reasoning":
            self._fold()
        self._mode = "text"
        self._start()
        commits = self._splitter.feed(text)
        for commit in commits:
            self._print_commit(commit)  # the live view already shows the new, shorter tail
        if not commits:
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
            commits = self._take_tail()
            self._mode = None
            for commit in commits:
                self._print_commit(commit)

    def _take_tail(self) -> list[Commit]:
        """Everything not printed yet, as the last block."""
        return self._splitter.feed(self._text.flush()) + self._splitter.flush()

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
            splitter = self._splitter
            source = splitter.preview(lines + 4, 2 * lines * self.console.width)
            key = ("text", source, self._codes)
            if splitter.info is not None:  # a fence whose label and first lines are out
                code = code_lines(splitter.fence_code(source))
                return key, CodeLines(code, splitter.info, CODE_THEME, self._context) if code else None
            return key, self._markdown(source, splitter.list_start, splitter.going_on) if source else None
        return (), None

    def pinned(self) -> bool:
        """Whether the live region shows a table, whose header stays on top."""
        return self._mode == "text" and self._splitter.tail_type == "table_open"

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

    def _markdown(self, source: str, list_start: int | None = None, continued: bool = False) -> Any:
        return markdown(source, first_code=self._codes + 1, hard_breaks=self.hard_breaks, list_start=list_start,
                        continued=continued)

    def _print_commit(self, commit: Commit) -> None:
        """Print a block, or more lines of the open fence (lexed after the lines kept as context)."""
        self._pending = commit
        if commit.kind == "code":
            lines = code_lines(commit.text)
            if lines:
                try:
                    code = CodeLines(lines, commit.info, CODE_THEME, self._context)
                    self._print(code)
                except Exception:  # never lose the answer to a rendering bug: show it as plain text
                    self._print(Text("\n".join(lines)))
                    code = None
                self._context = [] if code is None or code.clean else [*self._context, *lines][-MAX_CONTEXT:]
        else:
            self._context = []
            try:
                md = self._markdown(commit.text, commit.start, commit.kind == "more")
                self._print(md)
                self._codes += md.code_count
            except Exception:
                self._print(Text(commit.text.removeprefix(SEPARATOR)))
        self._pending = None

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
