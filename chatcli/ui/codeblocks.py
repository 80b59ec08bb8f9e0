"""The code blocks of an answer, numbered as the terminal shows them (for /copy N)."""

from __future__ import annotations


def code_blocks(text: str) -> list[str]:
    """The code of every fenced or indented code block in markdown text, in order (numbered from 1 on screen).

    Nested blocks count too (a fence inside a list item), as markdown-it finds them with Rich's parser.
    """
    from chatcli.ui.blocks import rich_parser

    parser = rich_parser()
    parser.disable(["inline", "text_join"], ignoreInvalid=True)
    return [t.content for t in parser.parse(text) if t.type in ("fence", "code_block")]
