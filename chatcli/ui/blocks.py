"""The block-commit engine: which top-level markdown blocks of a growing text can no longer change.

Only the last top-level block of a markdown document can still change. `BlockSplitter` parses the
complete lines of the uncommitted tail with the parser Rich uses and hands back the text before the
last top-level token, spaced so that printing the blocks one by one looks like rendering the whole
document once. See notes/streaming-markdown.md.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

# Before a block, an empty HTML comment and a blank line make Rich emit the blank line it puts
# between the blocks of one document (after an hr it adds none: the rule carries its own).
SEPARATOR = "<!-- -->\n\n"


def rich_parser() -> MarkdownIt:
    """A parser configured as the one rich.markdown.Markdown builds for itself."""
    return MarkdownIt().enable("strikethrough").enable("table")


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
    """Feed text, get back markdown for the blocks that can no longer change."""

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
