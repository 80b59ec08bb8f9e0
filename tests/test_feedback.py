"""What the user sees around an answer: red errors, dim lines cut to the width, the stats line, `chat ask`'s last newline."""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import termios

import pytest

from chatcli.app import ask
from chatcli.app.ask import AskOptions, run_ask
from chatcli.app.tally import Stopwatch
from chatcli.core.messages import ReasoningDelta, TextDelta, ToolCall, ToolResult, Usage
from chatcli.errors import NetworkError
from chatcli.ui.cells import cells, fit, wrap
from chatcli.ui.lines import stats_line, tool_line
from chatcli.ui.terminal import RED, RESET, Terminal, notice
from tests import fakeserver as fs

SGR = re.compile(r"\x1b\[[0-9;]*m")
LONG = ("qwen: cannot connect to dashscope.aliyuncs.com (connection refused); check your network or "
        "providers.qwen.base_url — and a very-long-word-that-must-never-be-split-anywhere-at-all-in-the-middle ok")


class Tty(io.StringIO):
    """Captured text on a pseudo-terminal of `columns` columns (so width_of asks a real tty)."""

    def __init__(self, columns: int = 60) -> None:
        super().__init__()
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.slave

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)
        super().close()


@pytest.fixture
def tty():
    made: list[Tty] = []

    def make(columns: int = 60) -> Tty:
        made.append(Tty(columns))
        return made[-1]
    yield make
    for stream in made:
        stream.close()


# --- fit, wrap, cells ------------------------------------------------------------------------------------------

def test_cells_counts_wide_and_combining():
    assert cells("abc") == 3 and cells("你好") == 4 and cells("e\u0301") == 1 and cells("") == 0


@pytest.mark.parametrize("width", range(1, 70))
def test_fit_never_exceeds_the_width(width):
    for text in (LONG, "床前明月光，疑是地上霜。举头望明月，低头思故乡。" * 2, "mixed 中文 and English words " * 3):
        line = fit(text, width)
        assert cells(line) <= width
        assert line == text or line.endswith("…")
        assert text.startswith(line.removesuffix("…").rstrip())


def test_fit_cuts_at_a_word_when_one_is_near():
    assert fit("hello wonderful world", 100) == "hello wonderful world"
    assert fit("hello wonderful world", 18) == "hello wonderful…"
    assert fit("hello wonderful world", 16) == "hello wonderful…"  # the cut falls on a space already
    assert fit("hello wonderful world", 13) == "hello…"
    assert fit("a " + "x" * 40, 20) == "a " + "x" * 17 + "…"  # the space is too far back: cut the word
    assert fit("两个字" * 10, 7) == "两个字…"
    assert fit("one\ntwo", 20) == "one two" and fit("abc", 0) == ""


def test_wrap_keeps_every_word_whole():
    lines = wrap(LONG, 60)
    assert " ".join(lines) == LONG
    assert all(cells(line) <= 60 for line in lines if " " in line)
    word = "very-long-word-that-must-never-be-split-anywhere-at-all-in-the-middle"
    assert any(word in line for line in lines)
    assert wrap("one two three", 7) == ["one two", "three"] and wrap(word, 10) == [word]
    assert wrap("", 10) == [""]


# --- the stats line and tool lines ----------------------------------------------------------------------------

def test_stats_line_streamed_with_cost():
    usage = Usage(prompt_tokens=120, completion_tokens=356)
    line = stats_line("qwen-plus", usage, 10.3, first_token=1.8, cost="¥0.0012")
    assert line == "qwen-plus · 1.8 s to first token · 42 tok/s · 120 in / 356 out · ¥0.0012"


def test_stats_line_without_usage_or_first_token():
    assert stats_line("qwen-plus", None, 8.4, first_token=1.8) == "qwen-plus · 1.8 s to first token · 8.4 s"
    usage = Usage(prompt_tokens=120, completion_tokens=356)
    assert stats_line("qwen-plus", usage, 8.4) == "qwen-plus · 8.4 s · 42 tok/s · 120 in / 356 out"
    assert stats_line("m", None, 2.0) == "m · 2.0 s"
    assert stats_line("m", Usage(1200, 0), 0.0) == "m · 0.0 s · 1,200 in / 0 out"  # no rate from nothing


def test_tool_line_fits_with_its_duration():
    call = ToolCall("c1", "get_current_weather", '{"location": "杭州", "detail": "' + "x" * 200 + '"}')
    line = tool_line(ToolResult(call, '{"temp": 18.5}', ok=True, seconds=0.3), 60)
    assert cells(line) <= 60 and line.endswith("… (0.3 s)") and line.startswith("⚙ get_current_weather(")
    short = tool_line(ToolResult(ToolCall("c2", "now", "{}"), '{"time":"12:00"}', ok=True, seconds=0.1), 60)
    assert short == '⚙ now() → {"time":"12:00"} (0.1 s)'


# --- errors, notices, say -----------------------------------------------------------------------------------

def test_error_is_red_and_wrapped_on_a_terminal(tty):
    err = tty(60)
    Terminal(io.StringIO(), err, environ={"TERM": "xterm"}).error(LONG)
    lines = err.getvalue().splitlines()
    assert len(lines) > 1 and all(line.startswith(RED) and line.endswith(RESET) for line in lines)
    plain = [SGR.sub("", line) for line in lines]
    assert " ".join(plain) == f"chat: {LONG}"  # nothing cut, every word whole
    assert all(cells(line) <= 60 for line in plain if " " in line)


def test_error_plain_without_colour_and_one_line_in_a_pipe(tty):
    err = tty(60)
    Terminal(io.StringIO(), err, environ={"TERM": "xterm", "NO_COLOR": "1"}).error(LONG)
    assert "\x1b" not in err.getvalue() and len(err.getvalue().splitlines()) > 1
    dumb = tty(60)
    Terminal(io.StringIO(), dumb, environ={"TERM": "dumb"}).error(LONG)
    assert dumb.getvalue() == f"chat: {LONG}\n"
    pipe = io.StringIO()
    Terminal(io.StringIO(), pipe, environ={"TERM": "xterm"}).error(LONG)
    assert pipe.getvalue() == f"chat: {LONG}\n"


def test_notice_is_dim_and_cut_to_the_width(tty):
    err = tty(60)
    Terminal(io.StringIO(), err, environ={"TERM": "xterm"}).notice("retrying in 1.0 s (1/2): " + LONG)
    (line,) = err.getvalue().splitlines()
    assert line.startswith("\x1b[2mchat: retrying in 1.0 s (1/2): qwen: cannot connect")
    assert cells(SGR.sub("", line)) <= 60 and SGR.sub("", line).endswith("…")
    pipe = io.StringIO()
    notice(LONG, pipe, environ={"TERM": "xterm"})
    assert pipe.getvalue() == f"chat: {LONG}\n"  # a log keeps all of it


def test_say_cuts_each_dim_line_and_keeps_the_lines(tty):
    out = tty(60)
    term = Terminal(out, io.StringIO(), environ={"TERM": "xterm", "NO_COLOR": "1"})
    term.say("/help   show this\n/sessions   " + "x " * 50 + "\nlast")
    lines = out.getvalue().splitlines()
    assert lines[0] == "/help   show this" and lines[2] == "last"
    assert cells(lines[1]) <= 60 and lines[1].endswith("…")
    term.say("y " * 50, dim=False)  # not a dim line: the user's content, kept whole
    assert out.getvalue().splitlines()[-1] == "y " * 50


# --- chat ask in-process ------------------------------------------------------------------------------------

@pytest.fixture
def asker(chat, monkeypatch):
    """ask(reply, ...) -> (stdout, stderr): `chat ask hi` in-process against the fake server."""
    for name, value in chat.env.items():
        if name.startswith(("XDG_", "HOME")) or name.endswith("_API_KEY"):
            monkeypatch.setenv(name, value)

    def run(*replies: fs.Reply, out: io.StringIO | None = None, err: io.StringIO | None = None,
            **options) -> tuple[str, str]:
        chat.server.queue(*replies)
        out = out if out is not None else io.StringIO()
        err = err if err is not None else io.StringIO()
        term = Terminal(out, err, stdin=io.StringIO(), environ={"TERM": "xterm"})
        run_ask(AskOptions("hi", config=str(chat.config), save=False, **options), term)
        return out.getvalue(), err.getvalue()
    return run


@pytest.fixture
def chat(chat, server):
    chat.server = server  # type: ignore[attr-defined]
    return chat


@pytest.mark.parametrize("chunks, expected", [
    (["ans", "wer"], "answer\n"),
    (["answer\n"], "answer\n"),
    (["a\n\n"], "a\n\n"),
    ([], ""),
])
def test_piped_answer_ends_with_one_newline(asker, chunks, expected):
    out, err = asker(fs.dashscope_text(chunks))
    assert out == expected and err == ""


def test_piped_answer_cut_by_an_error_still_ends_its_line(asker):
    out = io.StringIO()
    with pytest.raises(NetworkError):
        asker(fs.cut(fs.dashscope_text(["part one ", "part two ", "never"]), after=3), out=out)
    assert out.getvalue() == "part one part two \n"


def test_json_output_unchanged(asker):
    out, _ = asker(fs.dashscope_text(["x"]), as_json=True)
    assert out.endswith("}\n") and not out.endswith("\n\n")


def test_usage_on_a_terminal_adds_the_stats_line(asker, tty):
    err = tty(100)
    out, _ = asker(fs.dashscope_text(["ok"], usage=(12, 7)), err=err, usage=True)
    lines = [SGR.sub("", line) for line in err.getvalue().splitlines()]
    assert lines[0] == "usage: 12 in · 7 out"
    assert re.fullmatch(r"qwen-plus · \d+\.\d s to first token · \d+ tok/s · 12 in / 7 out", lines[1]), lines
    _, piped = asker(fs.dashscope_text(["ok"], usage=(12, 7)), usage=True)
    assert piped == "usage: 12 in · 7 out\n"  # a pipe: the one usage line, as before


class Recorder:
    """A renderer that notes what ask asks of it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def waiting(self) -> None:
        self.calls.append("waiting")

    def handle(self, event) -> None:
        self.calls.append(type(event).__name__)

    def line(self, text: str) -> None:
        self.calls.append(f"line {text}")

    def close(self) -> None:
        self.calls.append("close")

    def end_line(self) -> None:
        self.calls.append("end_line")


def test_waiting_before_the_first_event_on_a_terminal(asker, tty, monkeypatch):
    made: list[Recorder] = []
    monkeypatch.setattr(ask, "renderer_for", lambda term, **kw: made.append(Recorder()) or made[-1])
    asker(fs.dashscope_text(["ok"]), out=tty(80))
    assert made[0].calls[0] == "waiting" and made[0].calls[-2:] == ["close", "end_line"]
    asker(fs.dashscope_text(["ok"]))  # a pipe: no status line
    assert "waiting" not in made[1].calls and made[1].calls[-2:] == ["close", "end_line"]


def test_retry_notice_goes_through_the_live_renderer_on_one_screen(asker, tty, monkeypatch):
    """On a terminal a bare stderr write would land inside the `thinking…` line; the renderer puts it above."""
    made: list[Recorder] = []
    monkeypatch.setattr(ask, "renderer_for", lambda term, **kw: made.append(Recorder()) or made[-1])
    limited = fs.dashscope_error("limit_requests", headers={"Retry-After": "0"})
    err = tty(80)
    asker(limited, fs.dashscope_text(["ok"]), out=tty(80), err=err)
    assert made[0].calls[:2] == ["waiting", "line chat: qwen: retrying in 0.0 s (1/2): rate limited (HTTP 429, "
                                 "limit_requests): Requests rate limit exceeded, please try again later. "
                                 "(request_id fake-request-id)"]
    assert err.getvalue() == ""
    piped_err = io.StringIO()  # stderr elsewhere (a log): the notice goes there
    asker(limited, fs.dashscope_text(["ok"]), out=tty(80), err=piped_err)
    assert not any(call.startswith("line") for call in made[1].calls)
    assert piped_err.getvalue().startswith("chat: qwen: retrying in 0.0 s (1/2): rate limited")


def test_stopwatch_first_token():
    now = iter([10.0, 11.5, 12.0, 14.0])
    clock = Stopwatch(lambda: next(now))
    clock.see(TextDelta(""))  # nothing shown yet
    clock.see(ReasoningDelta("hm"))
    clock.see(TextDelta("a"))
    assert clock.first_token == 1.5 and clock.seconds() == 2.0
