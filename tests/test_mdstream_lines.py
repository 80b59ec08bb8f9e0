"""Long blocks stream line by line, code blocks are numbered and copy cleanly, soft breaks, status lines."""

from __future__ import annotations

import io
import random
import re
import time

import pyte
from rich.console import Console

from chatcli.core.messages import Notice, TextDelta
from chatcli.ui import kinsoku
from chatcli.ui.codeblocks import code_blocks
from chatcli.ui.mdstream import MarkdownRenderer
from chatcli.ui.render import PlainRenderer, TerminalRenderer
from tests.test_mdstream import WIDTH, Clock, pieces, random_pieces, scrollback, terminal, text_of, whole, written

COLOR_SGR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
FENCE = "Intro:\n\n```python\n" + "".join(f"line_{i:03d} = compute({i})  # step {i}\n" for i in range(300)) + "```\n\nEnd.\n"
LIST = "".join(f"{i}. item {i:03d} with some words\n" for i in range(1, 101)) + "\nAfter.\n"
TABLE = "| name | value |\n|------|------:|\n" + "".join(f"| row {i:03d} | {i} |\n" for i in range(60)) + "\nAfter.\n"


def feeding(doc: str, size: int = 7, height: int = 24) -> tuple[Console, MarkdownRenderer, Clock, list[str]]:
    console, clock = terminal(height), Clock()
    return console, MarkdownRenderer(console, clock=clock), clock, pieces(doc, size)


def feed_until(renderer: MarkdownRenderer, clock: Clock, chunks: list[str], marker: str) -> list[str]:
    """Feed chunks up to and including the one completing `marker`; the rest."""
    text = ""
    while chunks:
        piece = chunks.pop(0)
        renderer.handle(TextDelta(piece))
        clock.now += 0.2
        text += piece
        if marker in text:
            break
    return chunks


def finish(console: Console, renderer: MarkdownRenderer, clock: Clock, chunks: list[str]) -> str:
    for piece in chunks:
        renderer.handle(TextDelta(piece))
        clock.now += 0.02
    renderer.close()
    return written(console)


# --- long blocks fill the scrollback in order ------------------------------------------------------

def test_long_code_block_shows_its_first_lines_while_it_streams():
    console, renderer, clock, chunks = feeding(FENCE)
    rest = feed_until(renderer, clock, chunks, "line_040")
    shown = text_of(written(console))
    assert "[1] python" in shown and "line_000 = compute(0)  # step 0" in shown  # the head is out already
    assert shown.index("[1] python") < shown.index("line_000 = compute(0)  # step 0")
    raw = finish(console, renderer, clock, rest)
    assert scrollback(raw) == scrollback(whole(FENCE))


def test_long_list_shows_its_first_items_while_it_streams():
    console, renderer, clock, chunks = feeding(LIST)
    rest = feed_until(renderer, clock, chunks, "item 040")
    shown = text_of(written(console))
    assert " 1 item 001 with some words" in shown and " 9 item 009 with some words" in shown
    raw = finish(console, renderer, clock, rest)
    assert scrollback(raw) == scrollback(whole(LIST))
    lines = text_of(raw)
    # numbers right-aligned in two columns: item 10 does not move items 1-9
    assert " 9 item 009 with some words" in lines and "10 item 010 with some words" in lines
    assert "100 item 100 with some words" in lines


def test_bullet_list_and_nested_items_commit_in_order():
    doc = "".join(f"- item {i}\n  - sub {i}\n\n" for i in range(40)) + "para\n"
    for size in (1, 5, 40):
        assert scrollback(finish(*feeding(doc, size)[:3], pieces(doc, size))) == scrollback(whole(doc))


def test_table_header_stays_visible_while_rows_stream():
    console, renderer, clock, chunks = feeding(TABLE, size=5)
    feed_until(renderer, clock, chunks, "row 050")
    screen = pyte.Screen(WIDTH, 24)
    screen.set_mode(pyte.modes.LNM)
    pyte.Stream(screen).feed(written(console))
    display = [line.rstrip() for line in screen.display]
    header = next(i for i, line in enumerate(display) if "name" in line and "value" in line)
    assert any("row 049" in line for line in display[header:])
    assert not any("row 010" in line for line in display)  # the middle rows are cropped, not the header
    raw = finish(console, renderer, clock, chunks)
    assert scrollback(raw) == scrollback(whole(TABLE))


def test_random_documents_with_long_blocks():
    code = ["x = 1\n", "def f(a):\n", "    return a  # note\n", "\n", "print('s')\n", "    \n"]
    rng = random.Random(13)
    for _ in range(25):
        parts = []
        for _ in range(rng.randint(1, 6)):
            kind = rng.choice(["fence", "list", "olist", "para", "tilde"])
            n = rng.randint(1, 30)
            if kind in ("fence", "tilde"):
                mark = "```" if kind == "fence" else "~~~~"
                body = "".join(rng.choice(code) for _ in range(n))
                parts.append(f"{mark}{rng.choice(['python', '', 'js'])}\n{body}{mark if rng.random() < 0.8 else ''}\n")
            elif kind in ("list", "olist"):
                sep = "\n" if rng.random() < 0.3 else ""
                marker = (lambda i: f"{i + rng.choice([1, 1, 7])}.") if kind == "olist" else (lambda i: "-")
                parts.append("".join(f"{marker(i)} item {i}\n{sep}" for i in range(n)))
            else:
                parts.append("text *em* line\nsecond line\n")
        doc = "\n".join(parts)
        height = rng.choice([8, 24])
        raw = finish(*feeding(doc, height=height)[:3], random_pieces(doc, rng.randrange(1000)))
        assert scrollback(raw, height) == scrollback(whole(doc, height), height), repr(doc)


def test_code_lines_are_lexed_with_their_open_string():
    """A docstring streamed line by line is coloured as when the block is rendered whole."""
    doc = '```python\ndef f():\n    """First line\n\n    more text: if x\n    """\n    return 1\n```\n'
    for size in (1, 3, 100):
        assert scrollback(finish(*feeding(doc, size)[:3], pieces(doc, size))) == scrollback(whole(doc))


# --- code blocks: numbered, no padding --------------------------------------------------------------

def test_code_lines_have_no_leading_space_nor_trailing_background():
    doc = "```python\nprint(1)\n    indented = 2\n```\n"
    rows = scrollback(whole(doc))
    text = ["".join(cell[0] for cell in row).rstrip() for row in rows]
    assert text == ["[1] python", "print(1)", "    indented = 2"]
    assert all(cell[2] == "default" for cell in rows[1][len("print(1)"):])  # no background after the code
    assert rows[1][0][2] != "default"  # the code itself keeps the theme's background


def test_code_labels_number_blocks_as_code_blocks_does():
    doc = ("```python\na = 1\n```\n\n- item\n\n  ```js\n  let b\n  ```\n\n> ```\n> quoted\n> ```\n\n"
           "    indented\n\n~~~ruby extra\nputs 1\n~~~\n")
    lines = text_of(whole(doc))
    labels = [line.lstrip(" •▌") for line in lines if re.match(r"[ •▌]*\[\d+\]", line)]
    assert labels == ["[1] python", "[2] js", "[3]", "[4]", "[5] ruby"]
    blocks = code_blocks(doc)
    assert len(blocks) == 5
    for n, block in enumerate(blocks, 1):  # under label [n]: the first line of code_blocks(doc)[n - 1]
        at = next(i for i, line in enumerate(lines) if re.match(rf"[ •▌]*\[{n}\]", line))
        assert lines[at + 1].lstrip(" •▌") == block.split("\n")[0].strip()
    for size in (1, 4):  # streamed, the numbers go on across the blocks printed one by one
        assert scrollback(finish(*feeding(doc, size)[:3], pieces(doc, size))) == scrollback(whole(doc))


def test_markdown_numbers_from_first_code():
    lines = text_of(whole("```\nx\n```\n\n```go\ny\n```\n", first_code=3))
    assert lines[0] == "[3]" and "[4] go" in lines


def test_code_numbers_go_on_after_a_tool_line():
    console, clock = terminal(), Clock()
    renderer = MarkdownRenderer(console, clock=clock)
    renderer.handle(TextDelta("```py\na\n```\n"))
    renderer.handle(Notice("x"))
    renderer.handle(TextDelta("```\nb\n```\n"))
    renderer.close()
    renderer.handle(TextDelta("```\nc\n```\n"))  # the next answer starts again from 1
    renderer.close()
    assert [line for line in text_of(written(console)) if line.startswith("[")] == ["[1] py", "[2]", "[1]"]


# --- soft breaks, kinsoku -------------------------------------------------------------------------------

def test_single_newline_is_a_line_break():
    doc = "床前明月光，\n疑是地上霜。\n"
    assert text_of(whole(doc)) == ["床前明月光，", "疑是地上霜。"]
    assert text_of(whole(doc, hard_breaks=False)) == ["床前明月光， 疑是地上霜。"]
    for hard in (True, False):
        console, clock = terminal(), Clock()
        renderer = MarkdownRenderer(console, clock=clock, hard_breaks=hard)
        for piece in pieces(doc, 2):
            renderer.handle(TextDelta(piece))
        renderer.close()
        assert scrollback(written(console)) == scrollback(whole(doc, hard_breaks=hard))


def test_terminal_renderer_passes_hard_breaks_on():
    for hard, shown in ((False, ["a b"]), (True, ["a", "b"])):
        out = io.StringIO()
        renderer = TerminalRenderer(out, io.StringIO(), hard_breaks=hard)  # --markdown to a pipe
        renderer.handle(TextDelta("a\nb"))
        renderer.close()
        assert [line.rstrip() for line in out.getvalue().splitlines()] == shown


def test_wrapped_text_goes_through_kinsoku(monkeypatch):
    made: list[str] = []

    class Recording(kinsoku.KinsokuText):
        def wrap(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            made.append(self.plain)
            return super().wrap(*args, **kwargs)

    monkeypatch.setattr(kinsoku, "KinsokuText", Recording)
    whole("# Head\n\npara\n\n- item\n\n> quote\n\n| h |\n|---|\n| cell |\n")
    assert {"Head", "para", "item", "quote", "cell"} <= set(made)


# --- the dim lines, the spinner and the status line ------------------------------------------------------

def narrow(width: int = 60, height: int = 24, **kw) -> Console:
    return Console(file=io.StringIO(), force_terminal=True, force_interactive=True, width=width, height=height,
                   color_system="truecolor", legacy_windows=False, **kw)


def screen_text(raw: str, width: int = 60, height: int = 24) -> list[str]:
    screen = pyte.HistoryScreen(width, height, history=1000)
    screen.set_mode(pyte.modes.LNM)
    pyte.Stream(screen).feed(raw)
    rows = [*screen.history.top, *(screen.buffer[y] for y in range(height))]
    lines = ["".join(row[x].data for x in range(width)).rstrip() for row in rows]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def test_dim_lines_are_cut_to_the_width():
    console = narrow()
    renderer = MarkdownRenderer(console, clock=Clock())
    renderer.line("⚙ tool(" + "x" * 100 + ")")
    renderer.line("中文" * 40)
    renderer.close()
    lines = screen_text(written(console))
    assert len(lines) == 2
    assert lines[0].endswith("…") and len(lines[0]) == 60
    assert lines[1].endswith("…") and len(lines[1].replace("…", "")) <= 30


def wait_for(console: Console, text: str) -> str:
    deadline = time.monotonic() + 5
    while text not in written(console) and time.monotonic() < deadline:
        time.sleep(0.02)
    return written(console)


def test_waiting_shows_seconds_until_the_first_text():
    console, clock = narrow(), Clock()
    renderer = MarkdownRenderer(console, clock=clock)
    renderer.waiting()
    assert "thinking… 0.0 s" in written(console)
    clock.now = 2.1
    assert "thinking… 2.1 s" in wait_for(console, "2.1 s")  # the spinner's thread redraws it
    renderer.handle(TextDelta("Hello"))
    raw_before_close = written(console)
    assert screen_text(raw_before_close)[-1] == "Hello"
    clock.now = 5.0
    time.sleep(0.25)
    assert "5.0 s" not in written(console)  # stopped with the first text
    renderer.close()
    assert screen_text(written(console)) == ["Hello"]


def test_waiting_goes_on_after_a_notice_and_ends_with_the_answer_or_close():
    console, clock = narrow(), Clock()
    renderer = MarkdownRenderer(console, clock=clock)
    renderer.waiting()
    clock.now += 1.5
    renderer.handle(Notice("retrying"))  # a retry: said above the spinner, which goes on
    assert screen_text(written(console)) == ["chat: retrying", "thinking… 1.5 s"]
    renderer.handle(TextDelta("Hi"))
    renderer.close()
    assert screen_text(written(console)) == ["chat: retrying", "Hi"]
    renderer.waiting()
    renderer.close()
    assert screen_text(written(console)) == ["chat: retrying", "Hi"]


def test_status_line_stays_below_the_live_text_and_never_scrolls_back():
    console, clock = narrow(), Clock()
    renderer = MarkdownRenderer(console, clock=clock)
    renderer.status("queued: next message " + "x" * 80)
    assert screen_text(written(console))[-1].startswith("queued: next message")
    assert screen_text(written(console))[-1].endswith("…") and len(screen_text(written(console))[-1]) <= 60
    for piece in pieces("First paragraph.\n\nSecond", 3):
        renderer.handle(TextDelta(piece))
        clock.now += 0.2
    shown = screen_text(written(console))
    assert shown[-2:] == ["Second", shown[-1]] and shown[-1].startswith("queued:")
    renderer.status(None)
    assert screen_text(written(console))[-1] == "Second"
    renderer.status("queued: again")
    renderer.close()
    assert screen_text(written(console)) == ["First paragraph.", "", "Second"]


def test_status_and_waiting_on_pipes_do_nothing():
    out = io.StringIO()
    plain = PlainRenderer(out, io.StringIO())
    plain.waiting()
    plain.status("queued: x")
    plain.close()
    piped = TerminalRenderer(out, io.StringIO())  # --markdown to a pipe: no live region
    piped.waiting()
    piped.status("queued: x")
    piped.close()
    assert out.getvalue() == ""
    console = Console(file=io.StringIO(), width=60, color_system=None)
    renderer = MarkdownRenderer(console, clock=Clock())
    renderer.waiting()
    renderer.status("queued")
    renderer.close()
    assert written(console) == ""


def test_no_color_status_lines_have_no_colour():
    console, clock = narrow(no_color=True), Clock()
    renderer = MarkdownRenderer(console, clock=clock)
    renderer.waiting()
    renderer.status("queued: x")
    renderer.close()
    raw = written(console)
    assert "\x1b[2mthinking…" in raw and "\x1b[2mqueued: x" in raw  # dim, as the other dim lines
    assert not COLOR_SGR.search(raw)
