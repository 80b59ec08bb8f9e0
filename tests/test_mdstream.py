"""The streaming markdown renderer: whatever the chunking, the scrollback is the whole answer rendered once."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import time
import zlib
from typing import Literal

import pyte
import pytest
from rich.console import Console
from rich.markdown import Markdown

from chatcli.core.messages import Event, Finish, Notice, ReasoningDelta, TextDelta, ToolCall, ToolCallEvent, ToolResult
from chatcli.ui.blocks import CODE_TYPES, BlockSplitter, Commit
from chatcli.ui.mdelements import ChatMarkdown
from chatcli.ui.mdstream import CODE_THEME, MarkdownRenderer, markdown
from chatcli.ui.render import PlainRenderer, TerminalRenderer, make_renderer

WIDTH = 100
Colors = Literal["standard", "256", "truecolor"]

CORPUS = {
    "fence_with_blank_lines": "Intro:\n\n```python\ndef f():\n\n\n    return 1\n```\n\nAfter the code.\n",
    "tilde_fence": "~~~\nplain\n\n~~~\n\n~~~ruby\nputs 1\n~~~\ntext right after\n",
    # not ````markdown: Pygments colours a fence inside markdown only once its closing line is there, and
    # streamed code lines are final before that (the exception in mdelements.CodeLines)
    "four_backticks": "````text\n```python\nx = 1\n```\n\n````\n\nDone.\n",
    "unclosed_fence": "Start\n\n```js\nlet a = 1;\n\nlet b = 2;",
    "nested_lists": "- one\n  - one.a\n    - one.a.i\n  - one.b\n- two\n\n1. first\n2. second\n   1. inner\n",
    "loose_list": "- alpha\n\n- beta\n\n  more beta\n\n- gamma\n\nParagraph.\n",
    "table": "| name | value |\n|------|------:|\n| a | 1 |\n| 中文 | 22 |\n\nAfter.\n",
    "table_after_paragraph": "Some text\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    "block_quotes": "> quoted *text*\n> > nested\n> back\n\nlazy\n> quote\ncontinued lazily\n\nend\n",
    "headings_and_hr": "# One\nText\n## Two\n---\n***\nSetext\n===\n\nAfter\n---\n\n- - -\n### Three ###\n",
    "cjk_emoji": "你好，世界！这是一个很长的中文段落，" * 8 + "😀🎉 emoji\n\n- 列表项 😀\n- 第二项\n",
    "partial_dash_line": "Items:\n\n- apple\n- --banana\n- cherry\n\nText\n- --\n",
    "html_and_indented": "<div>\nhtml block\n</div>\n\n    indented code\n    more\n\npara with <b>inline</b>\n",
    "inline_styles": "**bold** *em* `code` ~~strike~~ [link](http://example.com) ![img](x.png)\n\n\ttab\there\n",
    "markup_literal": "[bold red]not markup[/] and [link=http://x]no link[/link] :smile:\n",
}


def terminal(height: int = 24, color_system: Colors = "truecolor") -> Console:
    return Console(file=io.StringIO(), force_terminal=True, force_interactive=True, width=WIDTH, height=height,
                   color_system=color_system, legacy_windows=False)


def written(console: Console) -> str:
    """Everything written to a console whose file is an io.StringIO."""
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def stream(pieces: list[str], height: int = 24, color_system: Colors = "truecolor", **kw) -> str:
    """Everything the renderer writes for these text pieces, arriving 20 ms apart."""
    console, clock = terminal(height, color_system), Clock()
    renderer = MarkdownRenderer(console, clock=clock, **kw)
    for piece in pieces:
        renderer.handle(TextDelta(piece))
        clock.now += 0.02
    renderer.close()
    return written(console)


def whole(doc: str, height: int = 24, color_system: Colors = "truecolor", **kw) -> str:
    console = terminal(height, color_system)
    console.print(markdown(doc, **kw))
    return written(console)


def scrollback(raw: str, height: int = 24) -> list[tuple]:
    """Every cell a person can scroll back to (character and attributes), trailing blank rows dropped."""
    screen = pyte.HistoryScreen(WIDTH, height, history=100_000)
    screen.set_mode(pyte.modes.LNM)  # "\n" as the tty's onlcr would turn it into "\r\n"
    pyte.Stream(screen).feed(raw)
    rows = [*screen.history.top, *(screen.buffer[y] for y in range(height))]
    cells = [tuple(row[x][:8] for x in range(WIDTH)) for row in rows]
    blank = tuple(screen.default_char[:8] for _ in range(WIDTH))
    while cells and cells[-1] == blank:
        cells.pop()
    return cells


def text_of(raw: str, height: int = 24) -> list[str]:
    return ["".join(cell[0] for cell in row).rstrip() for row in scrollback(raw, height)]


def pieces(doc: str, size: int) -> list[str]:
    return [doc[i:i + size] for i in range(0, len(doc), size)]


def random_pieces(doc: str, seed: int) -> list[str]:
    rng, out, i = random.Random(seed), [], 0
    while i < len(doc):
        n = rng.choice([1, 2, 3, 5, 8, 13, 30])
        out.append(doc[i:i + n])
        i += n
    return out


# --- the final scrollback equals one render of the whole answer ---------------------------------

@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("chunking", ["1", "4", "random"])
def test_scrollback_equals_whole_render(name, chunking):
    doc = CORPUS[name]
    split = random_pieces(doc, zlib.crc32(name.encode())) if chunking == "random" else pieces(doc, int(chunking))
    assert scrollback(stream(split)) == scrollback(whole(doc))


@pytest.mark.parametrize("color_system", ["standard", "256"])
def test_other_color_systems(color_system):
    doc = "".join(CORPUS.values())
    assert scrollback(stream(pieces(doc, 4), color_system=color_system)) == \
        scrollback(whole(doc, color_system=color_system))


def test_random_documents():
    fragments = ["# H\n", "para *em*\n", "\n", "\n\n", "- item\n", "  - sub\n", "1. one\n", "```\n", "~~~\n",
                 "x = 1\n", "| a | b |\n", "|---|---|\n", "| 1 | 2 |\n", "> quote\n", "---\n", "- --\n",
                 "中文😀\n", "    code\n", "Setext\n", "===\n", "<div>\n", "text `c` **b**\n"]
    rng = random.Random(7)
    for _ in range(60):
        doc = "".join(rng.choice(fragments) for _ in range(rng.randint(1, 20)))
        height = rng.choice([6, 12, 24])
        raw = stream(random_pieces(doc, rng.randrange(1000)), height=height)
        assert scrollback(raw, height) == scrollback(whole(doc, height), height), repr(doc)


def test_table_delimiter_arriving_late():
    doc = "Intro\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nafter\n"
    split = ["Intro\n\n| a | b |\n", "", "", "", "", "", "", "|---|", "---|\n| 1 | 2 |\n", "\nafter\n"]
    assert scrollback(stream(split)) == scrollback(whole(doc))


def test_partial_dash_line_does_not_commit_early():
    splitter = BlockSplitter()
    assert splitter.feed("- apple\n") == []
    assert splitter.feed("- --") == []  # an hr until the line ends: nothing may be printed yet
    assert splitter.feed("banana\n") == [Commit("md", "- apple\n")]  # the next item started
    assert splitter.feed("- cherry\n") == [Commit("more", "- --banana\n")]
    assert splitter.feed("\nText\n") == [Commit("more", "- cherry\n\n")]


def test_tall_answer_every_line_once():
    doc = "".join(f"- item {i:03d}\n" for i in range(150)) + "\n" + "".join(f"line {i:03d}\n\n" for i in range(100))
    for split in (pieces(doc, 4), pieces(doc, 50)):
        lines = [line for line in text_of(stream(split, height=10), height=10) if line]
        assert lines == [f" • item {i:03d}" for i in range(150)] + [f"line {i:03d}" for i in range(100)]


def test_one_huge_block_keeps_the_live_region_small():
    doc = "```python\n" + "".join(f"x_{i} = {i}\n" for i in range(1000))
    console, clock = terminal(height=40), Clock()
    renderer = MarkdownRenderer(console, clock=clock)
    biggest = 0
    for piece in pieces(doc, 40):
        before = console.file.tell()
        renderer.handle(TextDelta(piece))  # the fence never closes: every write is a redraw
        biggest = max(biggest, console.file.tell() - before)
        clock.now += 0.2
    assert renderer._splitter.preview(24, 4000).count("\n") < 30
    renderer.close()
    raw = written(console)
    assert [line for line in text_of(raw, 40) if "x_" in line] == [f"x_{i} = {i}" for i in range(1000)]
    final = len(whole(doc, 40))
    assert biggest < final / 20  # about 20 lines a redraw, never the whole block


def test_markdown_is_richs_markdown():
    """markdown() fills in Rich's `Markdown.markup` and `.parsed` itself: this fails should Rich stop using them."""
    for doc in CORPUS.values():
        console = terminal()
        md = ChatMarkdown(doc, code_theme=CODE_THEME, hyperlinks=False)  # Rich's own parser, without `breaks`
        md.code_numbers = {id(t): n for n, t in enumerate((t for t in md.parsed if t.type in CODE_TYPES), 1)}
        console.print(md)
        assert whole(doc, hard_breaks=False) == written(console)
    assert {"markup", "parsed"} <= vars(Markdown("x")).keys()  # else markdown() falls back to the slow way


# --- untrusted text -------------------------------------------------------------------------------

def test_markup_is_literal_and_escapes_stripped():
    raw = stream(["[bold red]x[/] \x1b[31mred\x1b[", "0m \x1b]8;;http://evil\x07link\x1b]8;;\x07 ",
                  "\x1b]0;title\x1b\\ok\x9b2J\n"])
    assert text_of(raw) == ["[bold red]x[/] red link ok2J"]  # the C1 CSI is gone, "2J" is text
    assert "evil" not in raw and "title" not in raw and "\x1b[31m" not in raw and "\x9b" not in raw


# --- reasoning, tool lines, notices -----------------------------------------------------------------

def run(events: list, height: int = 24, **kw) -> str:
    console, clock = terminal(height), Clock()
    renderer = MarkdownRenderer(console, clock=clock, **kw)
    for event in events:
        renderer.handle(event)
        clock.now += 0.2
    renderer.close()
    return written(console)


def test_reasoning_dim_then_folded_to_one_line():
    raw = run([ReasoningDelta("First I "), ReasoningDelta("think.\n\nThen more."), TextDelta("# Answer\n")])
    assert "\x1b[2mFirst I" in raw  # shown dim while it streams
    assert "\x1b[2mreasoning: First I think. Then more." in raw
    assert text_of(raw) == ["reasoning: First I think. Then more.", "Answer".center(WIDTH).rstrip()]


def test_long_reasoning_folds_to_one_line_with_ellipsis():
    raw = run([ReasoningDelta("word " * 500), TextDelta("ok")])
    lines = text_of(raw)
    assert lines[0].startswith("reasoning: word word") and lines[0].endswith("…") and len(lines[0]) == WIDTH
    assert lines[1:] == ["ok"]


def test_show_reasoning_false_hides_it():
    raw = run([ReasoningDelta("secret"), TextDelta("answer")], show_reasoning=False)
    assert "secret" not in raw and text_of(raw) == ["answer"]


def test_tool_lines_and_notices_between_blocks():
    call = ToolCall("c1", "get_current_time", "{}")
    events = [TextDelta("Let me check"), TextDelta(" the time.\n\n- a"), ToolCallEvent(call),
              ToolResult(call, '{"time": "12:00"}', True, 0.1), TextDelta("\n\nIt is *noon*."),
              Notice("the answer was cut off"), Finish("length")]
    raw = run(events)
    assert text_of(raw) == ["Let me check the time.", "", " • a", '⚙ get_current_time() → {"time":"12:00"} (0.1 s)',
                            "It is noon.", "chat: the answer was cut off"]
    assert "\x1b[2m⚙ get_current_time()" in raw


def test_line_after_close_and_close_twice():
    console = terminal()
    renderer = MarkdownRenderer(console, clock=Clock())
    renderer.handle(TextDelta("answer"))
    renderer.close()
    renderer.line("12 tokens")
    renderer.close()
    renderer.handle(TextDelta("second answer"))
    renderer.close()
    assert text_of(written(console)) == ["answer", "12 tokens", "second answer"]


# --- interruption ------------------------------------------------------------------------------------

def test_close_after_interrupt_mid_block_prints_what_arrived():
    console, clock = terminal(height=12), Clock()
    renderer = MarkdownRenderer(console, clock=clock)
    for piece in pieces("# Title\n\n```python\nprint(1)\nprint(2)\n", 3):
        renderer.handle(TextDelta(piece))
        clock.now += 0.05
    renderer.close()  # what ask's `finally` does after KeyboardInterrupt
    raw = written(console)
    assert scrollback(raw, 12) == scrollback(whole("# Title\n\n```python\nprint(1)\nprint(2)\n", 12), 12)
    assert raw.rindex("\x1b[?25h") > raw.rindex("\x1b[?25l")


class InterruptOnce(io.StringIO):
    """A terminal whose write of a given text is interrupted once (Ctrl-C during a write)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def write(self, text: str) -> int:
        if self.marker and self.marker in text:
            self.marker = ""
            raise KeyboardInterrupt
        return super().write(text)


def test_interrupt_while_printing_a_block_loses_and_repeats_nothing():
    doc = "First paragraph.\n\nSecond paragraph.\n\nThird"
    console = Console(file=InterruptOnce("Second paragraph."), force_terminal=True, force_interactive=True,
                      width=WIDTH, height=24, color_system="truecolor")
    renderer = MarkdownRenderer(console, clock=Clock())
    with pytest.raises(KeyboardInterrupt):
        for piece in pieces(doc, 4):
            renderer.handle(TextDelta(piece))
    renderer.close()
    assert text_of(written(console)) == ["First paragraph.", "", "Second paragraph."]


def test_interrupt_while_redrawing_loses_and_repeats_nothing():
    doc = "First paragraph.\n\nSecond paragraph.\n\nThird"
    console, clock = Console(file=InterruptOnce("Thi"), force_terminal=True, force_interactive=True,
                             width=WIDTH, height=24, color_system="truecolor"), Clock()
    renderer = MarkdownRenderer(console, clock=clock)
    with pytest.raises(KeyboardInterrupt):
        for piece in pieces(doc, 4):
            renderer.handle(TextDelta(piece))
            clock.now += 0.2
    renderer.close()
    raw = written(console)
    assert text_of(raw) == ["First paragraph.", "", "Second paragraph.", "", "Thi"]
    assert raw.rindex("\x1b[?25h") > raw.rindex("\x1b[?25l")


# --- without a terminal --------------------------------------------------------------------------------

def test_not_a_terminal_prints_blocks_without_escape_codes():
    console = Console(file=io.StringIO(), width=WIDTH, color_system=None)
    renderer = MarkdownRenderer(console, clock=Clock())
    events: list[Event] = [ReasoningDelta("hidden"), *map(TextDelta, pieces("# T\n\ntext\n\n- a\n", 3))]
    for event in events:
        renderer.handle(event)
    renderer.close()
    out = written(console)
    assert "\x1b" not in out and "hidden" not in out
    assert [line.rstrip() for line in out.splitlines()] == ["T".center(WIDTH).rstrip(), "", "text", "", " • a"]


def test_text_shows_after_a_pause_without_more_chunks():
    console = terminal()
    renderer = MarkdownRenderer(console)  # the real clock, with its timer
    renderer.handle(TextDelta("first"))
    renderer.handle(TextDelta(" second"))  # too soon for a redraw
    deadline = time.monotonic() + 5
    while "second" not in written(console) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "first second" in written(console)
    renderer.close()


# --- choosing a renderer ---------------------------------------------------------------------------------

class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_make_renderer_modes(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    out, err = io.StringIO(), io.StringIO()
    assert isinstance(make_renderer(out, err), PlainRenderer)
    assert isinstance(make_renderer(FakeTTY(), err), TerminalRenderer)
    assert isinstance(make_renderer(FakeTTY(), err, mode="raw"), PlainRenderer)
    assert isinstance(make_renderer(out, err, mode="markdown"), TerminalRenderer)
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(make_renderer(FakeTTY(), err), PlainRenderer)
    with pytest.raises(ValueError):
        make_renderer(out, err, mode="fancy")


def test_plain_renderer_lines_only_to_a_terminal_stderr(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    out, err, tty = io.StringIO(), io.StringIO(), FakeTTY()
    call = ToolCall("c", "get_current_time", "{}")
    for stderr in (err, tty):
        renderer = make_renderer(out, stderr, mode="raw")
        renderer.handle(TextDelta("raw *text*"))
        renderer.handle(ToolResult(call, "{}", True, 0.0))
        renderer.line("usage")
        renderer.close()
    assert out.getvalue() == "raw *text*raw *text*"
    assert err.getvalue() == ""
    assert "get_current_time" in tty.getvalue() and "usage" in tty.getvalue()


def test_rich_markdown_is_imported_with_the_first_text():
    code = ("import io, sys\nfrom chatcli.ui.render import make_renderer\nfrom chatcli.core.messages import TextDelta\n"
            "r = make_renderer(io.StringIO(), io.StringIO(), mode='markdown')\nr.line('x')\n"
            "print('rich.markdown' in sys.modules, 'markdown_it' in sys.modules)\n"
            "r.handle(TextDelta('# hi'))\nr.close()\nprint('rich.markdown' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["False", "False", "True"]
