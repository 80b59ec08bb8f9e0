"""Line breaking for Chinese and Japanese text (kinsoku): no line starts with closing punctuation.

Stub: filled in by the kinsoku work. `KinsokuText` is a `rich.text.Text` that wraps by these rules.
"""

from __future__ import annotations

from rich.text import Text


class KinsokuText(Text):
    """A Rich Text whose wrapping never starts a line with closing punctuation nor ends one with an opening bracket."""
