"""The block-commit engine: which parts of a growing markdown text can no longer change.

Only the last top-level block of a markdown document can still change. `BlockSplitter` parses the
complete lines of the uncommitted tail with the parser Rich uses and hands back the text before the
last top-level token, spaced so that printing the blocks one by one looks like rendering the whole
document once. Within the last block it also hands back what is final already: a top-level code
fence's lines (once a newline follows them and a non-blank line comes after any blank ones) and a
top-level list's items (once the next item starts). See notes/streaming-markdown.md.
"""

from __future__ import annotations

from typing import NamedTuple

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

# Before a block, an empty HTML comment and a blank line make Rich emit the blank line it puts
# between the blocks of one document (after an hr it adds none: the rule carries its own).
SEPARATOR = "<!-- -->\n\n"
CODE_TYPES = ("fence", "code_block")
LISTS = ("bullet_list_open", "ordered_list_open")


class Commit(NamedTuple):
    """Something final: markdown source to print ("md"); the same, going on with the list printed last
    ("more": no blank line before it); or more lines of the open fence ("code").

    start: for "more", the number of its first item if the list is ordered.
    info: for "code", the fence's info string (its language first).
    """

    kind: str
    text: str
    start: int | None = None
    info: str = ""


def rich_parser(*, breaks: bool = False) -> MarkdownIt:
    """A parser configured as the one rich.markdown.Markdown builds for itself.

    breaks: a single newline is a line break (markdown-it's `breaks` option, which only its HTML
    renderer reads: here a core rule turns the soft breaks into hard ones for Rich).
    """
    parser = MarkdownIt("commonmark", {"breaks": breaks}).enable("strikethrough").enable("table")
    if breaks:
        parser.core.ruler.push("hard_breaks", _hard_breaks)
    return parser


def _hard_breaks(state: StateCore) -> None:
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type, child.tag = "hardbreak", "br"


def last_chars(parts: list[str], n: int) -> str:
    """The last n characters of the text in these pieces (kept apart: no copy on every piece)."""
    i, got = len(parts), 0
    while i and got < n:
        i -= 1
        got += len(parts[i])
    return "".join(parts[i:])[-n:]


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


class BlockSplitter:
    """Feed text, get back the parts that can no longer change (`Commit`s)."""

    def __init__(self) -> None:
        # Rich's parser, block rules only: the top-level tokens are the same, without inline work.
        self._md = rich_parser()
        self._md.disable(["inline", "text_join"], ignoreInvalid=True)
        self._clear()

    def _clear(self) -> None:
        self.done = ""  # the tail's complete lines
        self.part: list[str] = []  # the tail's last, unfinished line, in pieces
        self.last_type: str | None = None  # top-level token type of the last committed block
        self.tail_type: str | None = None  # type of the tail's first token at the last parse
        self.info: str | None = None  # the tail is a fence whose label (and some lines) are out: its info
        self.list_start: int | None = None  # the number of the tail's next item, for an ordered list going on
        self.going_on = False  # the tail goes on with a list whose first items are out
        self._lines = 0  # complete lines in the tail
        self._parsed = 0  # complete lines at the last parse
        self._fence: tuple[str, int] | None = None  # the tail is this unclosed fence
        self._scanned = 0  # offset in done up to which lines were checked for a closing fence

    def feed(self, text: str) -> list[Commit]:
        """Add text; return what became final (nothing if no line was completed)."""
        if "\n" not in text:
            self.part.append(text)
            return []
        line = "".join(self.part) + text
        cut = line.rfind("\n") + 1
        self.done += line[:cut]
        self.part = [line[cut:]]
        self._lines += text.count("\n")
        out = self._split() if self._worth_parsing() else []
        if self.info is not None:
            out += self._code()
        return out

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

    def _split(self) -> list[Commit]:
        """Parse the complete lines; commit everything before the last top-level token, and what of it is final."""
        self._parsed = self._lines
        tokens = self._md.parse(self.done)
        tops = [t for t in tokens if t.level == 0 and t.map]
        if not tops:
            return []
        last = tops[-1]
        if last.type == "fence" and last.content.count("\n") == last.map[1] - last.map[0] - 2:  # type: ignore[index]
            return self._commit(self._lines, len(self.done), tops[0], "fence", None)  # a closed fence is final
        out: list[Commit] = []
        base = 0  # the line of the tail's new start in the text parsed
        if len(tops) > 1:
            base = last.map[0]  # type: ignore[index]
            out = self._commit(base, _line_start(self.done, base), tops[0], tops[-2].type, last.type)
        else:
            self.tail_type = last.type
        if last.type == "fence":
            self._fence, self._scanned = (last.markup[0], len(last.markup)), len(self.done)
            if self.info is None:
                out += self._head(last.map[0] - base, last.info)  # type: ignore[index]
        elif last.type in LISTS:
            out += self._items(tokens[tokens.index(last):], base)
        return out

    def _head(self, line: int, info: str) -> list[Commit]:
        """Commit the opening line of the fence starting at this line of the tail (its label)."""
        start, end = _line_start(self.done, line), _line_start(self.done, line + 1)
        source = self._source(self.done[:end])
        self.done = self.done[start:]
        self._lines -= line
        self._scanned -= start
        self.info = info
        return [Commit("md", source)]

    def _code(self) -> list[Commit]:
        """Commit the open fence's complete lines, up to the last non-blank one (trailing blank lines do not show)."""
        opener = self.done.index("\n") + 1
        body = self.done[opener:]
        shown = body.rstrip()
        if not shown:
            return []
        cut = body.index("\n", len(shown)) + 1
        code = self.fence_code(self.done[:opener + cut])
        self.done = self.done[:opener] + body[cut:]
        self._lines -= body.count("\n", 0, cut)
        self._scanned = len(self.done)
        return [Commit("code", code, info=self.info or "")]

    def fence_code(self, text: str) -> str:
        """The content of the fence that this text (an opening line, then lines) starts with."""
        tokens = self._md.parse(text)
        return tokens[0].content if tokens and tokens[0].type == "fence" else ""

    def _items(self, tokens: list[Token], base: int) -> list[Commit]:
        """Commit the items of the tail's list (its tokens given) but the last: the next one has started."""
        items = [t for t in tokens if t.type == "list_item_open" and t.level == 1 and t.map]
        if len(items) < 2:
            return []
        lines = items[-1].map[0] - base  # type: ignore[index]
        offset = _line_start(self.done, lines)
        ordered = tokens[0].type == "ordered_list_open"
        first = self.list_start if self.going_on else int(tokens[0].attrs.get("start", 1)) if ordered else None
        source = self._source(self.done[:offset])
        self.done = self.done[offset:]
        self._lines -= lines
        self._parsed = 0
        self.last_type = self.tail_type = tokens[0].type
        self.list_start = first + len(items) - 1 if first is not None else None
        kind = "more" if self.going_on else "md"
        self.going_on = True
        return [Commit(kind, source, first)]

    def _commit(self, lines: int, offset: int, first: Token, kind: str, next_kind: str | None) -> list[Commit]:
        """Cut the first `lines` lines (ending at offset) off the tail and return them; `first`: their first token."""
        text, out = self.done[:offset], []
        if self.info is not None:  # the rest of a fence whose label and first lines are out
            end = first.map[1] if first.map else 0
            out.append(Commit("code", self.fence_code(text), info=self.info))
            self.last_type, self.info, self.going_on = "fence", None, False
            text = text[_line_start(text, end):] if text.count("\n") >= end else ""
            if text.strip():
                out.append(Commit("md", self._source(text)))
        elif self.going_on:  # the rest of a list whose first items are out
            out.append(Commit("more", text, self.list_start))
        else:
            out.append(Commit("md", self._source(text)))
        self.done, self.last_type, self.tail_type = self.done[offset:], kind, next_kind
        self._lines -= lines
        self._parsed = 0
        self._fence = None
        self.info, self.list_start, self.going_on = None, None, False
        return [c for c in out if c.text]

    def _source(self, block: str) -> str:
        """Markdown for a block printed on its own, spaced as inside the whole document."""
        if not block.strip():
            return ""
        if self.going_on:
            return block
        return SEPARATOR + block if self.last_type not in (None, "hr") else block

    def flush(self) -> list[Commit]:
        """The whole tail as the document's last block; the next text starts a new document."""
        text = self.done + "".join(self.part)
        if self.info is not None:
            out = [Commit("code", self.fence_code(text), info=self.info)]
        else:
            out = [Commit("more" if self.going_on else "md", self._source(text), self.list_start)]
        self._clear()
        return [c for c in out if c.text]

    def preview(self, lines: int, chars: int) -> str:
        """Markdown for the live region: the tail, cut to about its last `lines` lines and `chars` characters.

        While a fence's lines are being committed, the tail is its opening line and the lines not out yet.
        """
        done = self.done
        if self.info is not None:
            return done + last_chars(self.part, chars)
        cut = len(done) - 1
        for _ in range(lines):
            cut = done.rfind("\n", 0, cut)
            if cut < 0:
                break
        text = done[cut + 1:] + last_chars(self.part, chars)
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
