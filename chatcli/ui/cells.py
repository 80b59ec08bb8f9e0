"""Terminal cells: how wide text is on screen, and lines cut or wrapped to a width (no Rich: start-up reads it)."""

from __future__ import annotations

import unicodedata


def char_cells(char: str) -> int:
    """Terminal cells of one character: 2 for wide (CJK), 0 for combining marks and format characters."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cells(text: str) -> int:
    """Terminal cells of a line of text (a cheap estimate, no rich)."""
    return sum(map(char_cells, text))


WORD_SLACK = 15  # cut at a space if one is within this many cells of the cut


def fit(text: str, width: int) -> str:
    """The text as one line of at most `width` cells, cut (at a space when one is near) and ending with `…`."""
    text = " ".join(text.replace("\t", " ").splitlines())
    if cells(text) <= width:
        return text
    if width <= 0:
        return ""
    kept: list[str] = []
    used = 0
    for char in text:
        used += char_cells(char)
        if used > width - 1:  # a cell for the `…`
            break
        kept.append(char)
    head = "".join(kept)
    space = head.rfind(" ")
    mid_word = not text[len(head)].isspace()
    if mid_word and space > 0 and cells(head[space:]) <= WORD_SLACK and head[:space].strip():
        head = head[:space]
    return head.rstrip() + "…"


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` cells broken at spaces; a word wider than that keeps a line of its own, whole."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and cells(line) + 1 + cells(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line or not lines else lines
