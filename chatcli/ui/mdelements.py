"""Our elements for Rich's Markdown: numbered code blocks without padding, list numbers that do not move, kinsoku text.

`markdown(source)` is the renderable for model text everywhere (streamed answers, sessions show, /history).
Code blocks render as a dim label (`[1] python`) and then their lines, highlighted, each wrapped on its
own, with neither left padding nor trailing background spaces, so that copied code carries no indent.
`CodeLines` renders any run of a block's lines, so a streamed block can be printed in pieces
(chatcli.ui.mdstream) and look as it does rendered whole. Imported lazily (rich.markdown is slow to import).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any, ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich import markdown as rich_md
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderResult
from rich.segment import Segment
from rich.syntax import Syntax
from rich.text import Text

from chatcli.ui import kinsoku
from chatcli.ui.blocks import CODE_TYPES, rich_parser

__all__ = ["CODE_THEME", "ChatMarkdown", "CodeLines", "code_label", "code_lines", "markdown", "wrapped_text"]

CODE_THEME = "monokai"
TAB_SIZE = 4


def wrapped_text(justify: JustifyMethod | None = "left") -> Text:
    """The Text of a paragraph, heading, list item or table cell: wraps by CJK line-breaking rules."""
    return kinsoku.KinsokuText(justify=justify)


def code_label(number: int | None, info: str) -> Text:
    """The dim line above a code block: `[1] python`, or `[2]` without a language."""
    language = info.partition(" ")[0]
    label = " ".join(part for part in (f"[{number}]" if number else "", language) if part)
    return Text(label, style="dim", no_wrap=True, overflow="ellipsis", end="\n")


def code_lines(code: str) -> list[str]:
    """The lines of a code block's content as shown: split on newlines, trailing blank lines dropped."""
    lines = code.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


@functools.lru_cache(maxsize=32)
def _lexer(name: str) -> Any:
    """The Pygments lexer Rich's Syntax uses for this language, or None."""
    return Syntax("", name, tab_size=TAB_SIZE).lexer


@functools.lru_cache(maxsize=4)
def _theme(name: str) -> Any:
    """A Rich syntax theme (cached: it caches the style of each token type)."""
    return Syntax.get_theme(name)


def _open_ended(kind: Any) -> bool:
    """Whether a Pygments token type is a string or comment (which may go on past a newline)."""
    return tuple(kind[:2]) == ("Literal", "String") or tuple(kind[:1]) == ("Comment",)


class CodeLines:
    """Some lines of one code block, highlighted after `context` (the block's lines just before them).

    `clean` says whether the lexer ended these lines outside a string or comment: the next lines of
    the block can then be lexed on their own. A streamed block is lexed in such pieces, so its colours
    match the block lexed whole except where a later line changes how earlier ones lex (an unclosed
    `/*` in C shows as operators until `*/` arrives), where a string or comment spans more than the
    context kept, or where a lexer's state shows in no token (HTML with a script inside).
    """

    def __init__(self, lines: Sequence[str], info: str, theme: str = CODE_THEME,
                 context: Sequence[str] = ()) -> None:
        syntax_theme = _theme(theme)
        lexer = _lexer(info.partition(" ")[0] or "text")
        code = "".join(f"{line}\n" for line in (*context, *lines))
        text = Text(style=syntax_theme.get_background_style(), tab_size=TAB_SIZE)
        self.clean = True
        if lexer is None:
            text.append(code)
        else:
            kind: Any = None
            for kind, value in lexer.get_tokens(code):
                text.append(value, syntax_theme.get_style_for_token(kind))
            self.clean = kind is None or not _open_ended(kind)
        shown = list(text.split("\n", allow_blank=True))[len(context):len(context) + len(lines)]
        for line in shown:
            line.rstrip()
            line.justify, line.no_wrap, line.overflow, line.end = "default", False, "fold", "\n"
        self.texts = shown

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.texts


class Paragraph(rich_md.Paragraph):
    """A paragraph whose text wraps by kinsoku rules."""

    def on_enter(self, context: rich_md.MarkdownContext) -> None:
        super().on_enter(context)
        self.text = wrapped_text()


class Heading(rich_md.Heading):
    """A heading whose text wraps by kinsoku rules."""

    def on_enter(self, context: rich_md.MarkdownContext) -> None:
        super().on_enter(context)
        self.text = wrapped_text(None)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = wrapped_text(self.LEVEL_ALIGN.get(self.tag, "left"))  # Text.copy() would lose the class
        text.append_text(self.text)
        yield text


class TableData(rich_md.TableDataElement):
    """A table cell whose text wraps by kinsoku rules."""

    def __init__(self, justify: JustifyMethod) -> None:
        super().__init__(justify)
        self.content = wrapped_text(justify)


class ListItem(rich_md.ListItem):
    """A list item numbered in a column that does not depend on how many items follow."""

    def on_enter(self, context: rich_md.MarkdownContext) -> None:
        super().on_enter(context)
        self.text = wrapped_text()

    def render_number(self, console: Console, options: ConsoleOptions, number: int,
                      last_number: int) -> RenderResult:
        """` 1 ` ... `99 `, `100 `: Rich sizes the column by the last number, so item 10 would move items 1-9."""
        numeral = f"{number:>2} "
        lines = console.render_lines(self.elements, options.update(width=options.max_width - len(numeral)),
                                     style=self.style)
        style = console.get_style("markdown.item.number", default="none")
        padding, new_line = Segment(" " * len(numeral), style), Segment("\n")
        for i, line in enumerate(lines):
            yield padding if i else Segment(numeral, style)
            yield from line
            yield new_line


class CodeBlock(rich_md.TextElement):
    """A fenced or indented code block: its label, then its lines (see `CodeLines`)."""

    style_name = "markdown.code_block"

    @classmethod
    def create(cls, markdown: rich_md.Markdown, token: Token) -> CodeBlock:
        numbers: dict[int, int] = getattr(markdown, "code_numbers", {})
        return cls(token.info or "", markdown.code_theme, numbers.get(id(token)))

    def __init__(self, info: str, theme: str, number: int | None) -> None:
        self.info, self.theme, self.number = info, theme, number

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield code_label(self.number, self.info)
        yield CodeLines(code_lines(str(self.text)), self.info, self.theme)


class ChatMarkdown(rich_md.Markdown):
    """Rich's Markdown with our elements; `code_numbers` maps code tokens (by id) to their label numbers."""

    elements: ClassVar[dict[str, type[rich_md.MarkdownElement]]] = {
        **rich_md.Markdown.elements,
        "paragraph_open": Paragraph,
        "heading_open": Heading,
        "fence": CodeBlock,
        "code_block": CodeBlock,
        "list_item_open": ListItem,
        "td_open": TableData,
        "th_open": TableData,
    }
    code_numbers: dict[int, int] = {}  # noqa: RUF012 - replaced per instance
    code_count = 0
    continued = False  # the source goes on with a list already on screen: no blank line before it

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        results = iter(super().__rich_console__(console, options))
        if self.continued:  # Rich puts a blank line before a top-level list (its items' new_line)
            first = next(results, None)
            if first is not None and not (isinstance(first, Segment) and first.text == "\n"):
                yield first
        yield from results


@functools.lru_cache(maxsize=2)
def _template(hard_breaks: bool) -> tuple[ChatMarkdown, MarkdownIt]:
    return ChatMarkdown("", code_theme=CODE_THEME, hyperlinks=False), rich_parser(breaks=hard_breaks)


def markdown(source: str, *, first_code: int = 1, hard_breaks: bool = True,
             list_start: int | None = None, continued: bool = False) -> ChatMarkdown:
    """The Rich renderable for model text: no hyperlinks, no markup, numbered code blocks.

    first_code: the label number of the first code block (an answer printed in parts goes on counting).
    hard_breaks: a single newline is a line break (markdown-it's `breaks`); False for CommonMark's space.
    list_start: the number of the first item, if the source starts with the rest of an ordered list.
    continued: the source starts with the rest of a list already printed (no blank line before it).
    """
    template, parser = _template(hard_breaks)
    # Markdown() builds a new parser every time, a tenth of the renderer's CPU here: copy a built one
    # and fill in its public `markup` and `parsed` (what Markdown.__init__ sets from the source).
    # tests/test_mdstream.py::test_markdown_is_richs_markdown fails should Rich stop reading them.
    md = copy.copy(template)
    md.markup, md.parsed = source, parser.parse(source)
    codes = [t for t in md.parsed if t.type in CODE_TYPES]
    md.code_numbers = {id(t): n for n, t in enumerate(codes, first_code)}
    md.code_count, md.continued = len(codes), continued
    if list_start is not None and md.parsed and md.parsed[0].type == "ordered_list_open":
        md.parsed[0].attrs["start"] = list_start
    return md
