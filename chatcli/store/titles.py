"""Conversation titles and search snippets: one line of text, measured in terminal columns."""

from __future__ import annotations

import unicodedata

TITLE_WIDTH = 60  # terminal columns; CJK characters count as two


def _cells(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def make_title(text: str, width: int = TITLE_WIDTH) -> str:
    """Text on one line, cut to about width terminal columns (at a word end when one is near)."""
    flat = " ".join(text.split())
    if len(flat) * 2 <= width or sum(map(_cells, flat)) <= width:
        return flat
    used = end = 0
    for ch in flat:
        used += _cells(ch)
        if used > width - 1:
            break
        end += 1
    cut = flat[:end]
    space = cut.rfind(" ")
    if space > len(cut) * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + "…"


def make_snippet(text: str, terms: list[str], width: int = 80) -> str:
    """One line of text around the first term found."""
    flat = " ".join(text.split())
    low = flat.lower()
    found = [i for i in (low.find(t.lower()) for t in terms) if i >= 0]
    start = max(0, min(found, default=0) - width // 3)
    shown = flat[start:start + width]
    return ("…" if start else "") + shown + ("…" if start + width < len(flat) else "")
