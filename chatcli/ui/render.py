"""Showing an answer: raw text to a pipe, styled text to a terminal, notices to stderr."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TextIO

from chatcli.core.messages import (
    Event,
    Notice,
    ReasoningDelta,
    Sources,
    TextDelta,
    ToolResult,
)
from chatcli.ui.cells import fit
from chatcli.ui.lines import source_lines, tool_line
from chatcli.ui.sanitize import Sanitizer, strip_controls
from chatcli.ui.terminal import Terminal, is_terminal, notice, styled, use_color, width_of


class Renderer(Protocol):
    """Shows the events of one answer."""

    def handle(self, event: Event) -> None: ...

    def line(self, text: str) -> None: ...

    def close(self) -> None: ...

    def end_line(self) -> None: ...

    def waiting(self) -> None: ...

    def status(self, text: str | None) -> None: ...


def renderer_for(term: Terminal, *, mode: str = "auto", show_reasoning: bool = True,
                 hard_breaks: bool = True) -> Renderer:
    """The renderer for an answer on a terminal's streams."""
    return make_renderer(term.out, term.err, mode=mode, show_reasoning=show_reasoning, hard_breaks=hard_breaks,
                         environ=term.environ)


def make_renderer(out: TextIO, err: TextIO, *, mode: str = "auto", show_reasoning: bool = True,
                  hard_breaks: bool = True, environ: Mapping[str, str] | None = None) -> Renderer:
    """The renderer for these streams: mode "auto" (markdown on a terminal, else raw), "raw" or "markdown".

    hard_breaks: a single newline in the text is a line break ([render] soft_breaks = "break").
    """
    if mode not in ("auto", "raw", "markdown"):
        raise ValueError(f"unknown render mode {mode!r}")
    if mode == "raw" or (mode == "auto" and not is_terminal(out, environ)):
        return PlainRenderer(out, err, environ=environ)
    return TerminalRenderer(out, err, show_reasoning=show_reasoning, hard_breaks=hard_breaks, environ=environ)


class PlainRenderer:
    """The model's text exactly as it streams (control sequences removed); decoration only on stderr."""

    def __init__(self, out: TextIO, err: TextIO | None = None, *, environ: Mapping[str, str] | None = None) -> None:
        self.environ = environ  # NO_COLOR, TERM (None: the process's)
        self.out = out
        self.err = err
        self.progress = err is not None and is_terminal(err, environ)
        self.text = Sanitizer()
        self.mid_line = False  # the text written so far does not end with a newline

    def handle(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            text = self.text.feed(event.text)
            self.out.write(text)
            self.out.flush()
            self.mid_line = text[-1:] != "\n" if text else self.mid_line
        elif isinstance(event, ToolResult):
            self.line(tool_line(event))
        elif isinstance(event, Sources):
            if self.progress and self.mid_line and is_terminal(self.out, self.environ):  # --raw: one screen for both
                self.out.write("\n")
                self.mid_line = False
            for text in source_lines(event):
                self.line(text)
        elif isinstance(event, Notice) and self.err is not None:
            notice(event.text, self.err, environ=self.environ)

    def line(self, text: str) -> None:
        """Progress decoration: on stderr, and only when stderr is a terminal."""
        if self.progress:
            notice(text, self.err, prefix="", environ=self.environ)  # type: ignore[arg-type]

    def close(self) -> None:
        self.out.write(self.text.flush())
        self.out.flush()

    def end_line(self) -> None:
        """End the answer's last line, if it is open (the next output is not the answer's)."""
        if self.mid_line:
            self.out.write("\n")
            self.out.flush()
            self.mid_line = False

    def waiting(self) -> None:
        """Nothing: a pipe gets the text only."""

    def status(self, text: str | None) -> None:
        """Nothing: a pipe gets the text only."""


class TerminalRenderer:
    """Markdown rendered as it streams (chatcli.ui.mdstream, loaded with the first output).

    On a terminal: styled, with a live region for the unfinished block, reasoning and dim lines.
    Otherwise (--markdown to a pipe or TERM=dumb): the same layout without escape codes, and
    decoration goes where PlainRenderer sends it.
    """

    def __init__(self, out: TextIO, err: TextIO | None = None, *, show_reasoning: bool = True,
                 hard_breaks: bool = True, environ: Mapping[str, str] | None = None) -> None:
        self.out = out
        self.hard_breaks = hard_breaks
        self.environ = environ  # NO_COLOR, TERM (None: the process's)
        self.live = is_terminal(out, environ)
        self.color = use_color(out, environ)
        self.show_reasoning = show_reasoning and self.live
        self.side = None if self.live else PlainRenderer(out, err, environ=environ)
        self._md: Any = None

    def _view(self) -> Any:
        """The mdstream renderer, created (and rich imported) on first use."""
        if self._md is None:
            from rich.console import Console

            from chatcli.ui.mdstream import MarkdownRenderer

            console = Console(file=self.out, force_terminal=self.live, force_interactive=self.live,
                              color_system="auto" if self.live else None, no_color=not self.color,
                              markup=False, emoji=False, highlight=False, legacy_windows=False)
            self._md = MarkdownRenderer(console, show_reasoning=self.show_reasoning, hard_breaks=self.hard_breaks)
        return self._md

    def handle(self, event: Event) -> None:
        if isinstance(event, (TextDelta, ReasoningDelta)):
            if event.text and (isinstance(event, TextDelta) or self.show_reasoning):
                self._view().handle(event)
            elif event.text and self._md is not None:
                self._md.handle(event)  # hidden reasoning: not shown, but it ends the `thinking…` line
        elif isinstance(event, Sources):
            for text in source_lines(event):
                self.line(text)
        elif self.side is not None:
            self.side.handle(event)
        elif self._md is not None:
            self._md.handle(event)
        elif isinstance(event, ToolResult):
            self.line(tool_line(event, width_of(self.out)))
        elif isinstance(event, Notice):
            self.line(f"chat: {event.text}")

    def line(self, text: str) -> None:
        """A dim line between blocks (on a terminal; else as PlainRenderer would)."""
        if self.side is not None:
            self.side.line(text)
        elif self._md is not None:
            self._md.line(text)
        else:  # nothing streamed yet: no need to load rich for one line
            text = strip_controls(text)
            if self.live:  # each line cut to the width, as MarkdownRenderer.line does
                text = "\n".join(fit(part, width_of(self.out)) for part in text.split("\n"))
            self.out.write(styled(text, self.out, self.environ) + "\n")
            self.out.flush()

    def close(self) -> None:
        if self._md is not None:
            self._md.close()

    def end_line(self) -> None:
        """Markdown blocks end their lines; plain text to a pipe may not."""
        if self.side is not None:
            self.side.end_line()

    def waiting(self) -> None:
        """On a terminal: a dim `thinking… 2.1 s` line until the first event."""
        if self.live:
            self._view().waiting()

    def status(self, text: str | None) -> None:
        """On a terminal: a dim line below the live text (e.g. `queued: ...`) until status(None) or close()."""
        if self.live and (text is not None or self._md is not None):
            self._view().status(text)


class Notify:
    """Where the session's notices (retrying...) go: stderr, or the renderer while it owns the terminal."""

    def __init__(self, term: Terminal) -> None:
        self.term = term
        self.renderer: Renderer | None = None

    def __call__(self, message: str) -> None:
        if self.renderer is not None:
            self.renderer.line(f"chat: {message}")  # a bare stderr write would land inside the live region
        else:
            self.term.notice(message)
