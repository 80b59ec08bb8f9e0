"""Line breaking for Chinese and Japanese text (kinsoku): no line starts with closing punctuation.

Rich wraps CJK text by cell width alone, so a line can start with `，` or end with `「`. Here a
bad break moves back: the previous line's last character comes down with the punctuation, so no
line grows past the width. Text without CJK breaks exactly where Rich breaks it (tests compare).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

from rich.cells import cell_len, chop_cells
from rich.containers import Lines
from rich.text import DEFAULT_JUSTIFY, DEFAULT_OVERFLOW, Text

if TYPE_CHECKING:
    from rich.console import Console, JustifyMethod, OverflowMethod

SMALL_KANA = "ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ"
NO_START = "，。、；：？！）」』》】〕〉”’…‥・ー" + SMALL_KANA + ",.;:?!)]}"  # never first on a line
NO_END = "（「『《【〔〈“‘"  # never last on a line

_WORD = re.compile(r"\s*\S+\s*")


def _wide(char: str) -> bool:
    return cell_len(char) == 2


def _bad_break(text: str, at: int) -> bool:
    """Whether a line starting at `at` breaks the rules; only next to wide (CJK) characters."""
    before, after = text[at - 1], text[at]
    if before.isspace() or after.isspace():
        return False
    # Only in CJK context: Latin text folded mid-word (`word.` `(a`) keeps Rich's break.
    if after in NO_START:
        start = at - 1
        while start > 0 and text[start] in NO_START:
            start -= 1
        if any(map(_wide, text[start:at + 1])):  # `。`, or `……` / `,` after a CJK character
            return True
    if before in NO_END:
        end = at
        while end < len(text) - 1 and text[end] in NO_END:
            end += 1
        return any(map(_wide, text[at - 1:end + 1]))
    return False


def _capped_cells(text: str, cap: int) -> int:
    """cell_len(text) if it is at most `cap`, else some number above `cap` (without measuring all of a long text)."""
    if len(text) > cap + 1:
        head = cell_len(text[:cap + 1])  # a prefix is never wider than the whole
        if head > cap:
            return head
    return cell_len(text)


def _lines(text: str, width: int, fold: bool, begin: int = 0) -> Iterator[int]:
    """Rich's `rich._wrap.divide_line` (15.0) for the line starting at `begin`, lazily: where the next lines start."""
    offset = 0
    for match in _WORD.finditer(text, begin):
        start, word = match.start(), match.group(0)
        length = _capped_cells(word.rstrip(), width)
        if width - offset >= length:
            offset += cell_len(word)
        elif length > width:
            if fold:
                offset = yield from _fold(text, start, match.end(), width, begin)
            else:
                if start != begin:
                    yield start
                offset = cell_len(word)
        elif offset and start != begin:
            yield start
            offset = cell_len(word)


def _fold(text: str, start: int, end: int, width: int, begin: int) -> Generator[int, None, int]:
    """The starts of a long word's pieces (Rich's chop_cells), a chunk at a time; returns the last piece's cells."""
    chunk = 2 * width + 16  # a few pieces: after a moved break only the next lines matter
    while True:
        whole = end - start <= chunk or width < 2  # (below 2 cells Rich's pieces depend on where it starts)
        pieces = chop_cells(text[start:end if whole else start + chunk], width)
        if not whole:
            if len(pieces) < 2:
                chunk *= 2
                continue
            pieces.pop()  # the chunk may cut its last piece short: chop again from that piece's start
        for piece in pieces:
            if start != begin:
                yield start
            start += len(piece)
        if whole:
            return cell_len(pieces[-1]) if pieces else 0


def _settle(text: str, line_start: int, at: int) -> int:
    """A break at `at`, moved back while it breaks the rules and the line keeps a character."""
    moved = at
    while _bad_break(text, moved) and moved - 1 > line_start:
        moved -= 1
    return moved if not _bad_break(text, moved) else at


def break_offsets(text: str, width: int, *, fold: bool = True) -> list[int]:
    """Offsets in `text` (one line, no newline) where wrapped lines of `width` cells start, kinsoku applied."""
    result: list[int] = []
    line_start = 0
    starts = _lines(text, width, fold)
    while (at := next(starts, None)) is not None:
        settled = _settle(text, line_start, at)
        result.append(settled)
        line_start = settled
        if settled != at:  # the next line took characters: lay out the rest from here
            starts = _lines(text, width, fold, settled)
    return result


class KinsokuText(Text):
    """A Rich Text whose wrapping never starts a line with closing punctuation nor ends one with an opening bracket.

    Rendered as a renderable (a Markdown element yields it, `console.render_lines`), it wraps by these
    rules; `Console.print(text)` joins its Text arguments into a plain Text first, which does not.
    """

    def wrap(self, console: Console, width: int, *, justify: JustifyMethod | None = None,
             overflow: OverflowMethod | None = None, tab_size: int = 8, no_wrap: bool | None = None) -> Lines:
        """Text.wrap (rich 15.0) with kinsoku break offsets."""
        wrap_justify = justify or self.justify or DEFAULT_JUSTIFY
        wrap_overflow = overflow or self.overflow or DEFAULT_OVERFLOW
        no_wrap = (no_wrap if no_wrap is not None else bool(self.no_wrap)) or overflow == "ignore"
        lines = Lines()
        for line in self.split(allow_blank=True):
            if "\t" in line:
                line.expand_tabs(tab_size)
            if no_wrap:
                if overflow == "ignore":
                    lines.append(line)
                    continue
                new_lines = Lines([line])
            else:
                offsets = break_offsets(str(line), width, fold=wrap_overflow == "fold")
                new_lines = line.divide(offsets)
                for piece in new_lines:
                    piece.rstrip_end(width)
            if wrap_justify:
                new_lines.justify(console, width, justify=wrap_justify, overflow=wrap_overflow)
            for piece in new_lines:
                piece.truncate(width, overflow=wrap_overflow)
            lines.extend(new_lines)
        return lines

    def copy(self) -> KinsokuText:
        """A copy that keeps the line-breaking rules."""
        new = self.blank_copy(self.plain)
        new.spans = self.spans
        return new

    def blank_copy(self, plain: str = "") -> KinsokuText:
        """A new KinsokuText with this one's metadata (not its text or spans)."""
        return KinsokuText(plain, style=self.style, justify=self.justify, overflow=self.overflow,
                           no_wrap=self.no_wrap, end=self.end, tab_size=self.tab_size)
