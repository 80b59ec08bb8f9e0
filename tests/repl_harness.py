"""Drive the REPL in-process: keys through prompt-toolkit's pipe input, fake providers, captured streams."""

from __future__ import annotations

import io
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatcli.app.session import open_session
from chatcli.config import Config
from chatcli.config.loading import load_config
from chatcli.core.messages import ChatRequest
from chatcli.repl.loop import Repl
from chatcli.ui.terminal import Terminal
from tests.fakeprovider import FakeProvider, fake_for

ENTER, ALT_ENTER, UP, CTRL_C, CTRL_D = "\r", "\x1b\r", "\x1b[A", "\x03", "\x04"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
RUN_TIMEOUT = 60.0  # seconds a run may take before the harness ends its input
FAKED = ("qwen", "zhipu")  # the providers a rig answers for; switching to another would reach the network


class TerminalText(io.StringIO):
    """Captured text that says it is a terminal, so the REPL writes its dim lines (tool calls, stats) to it."""

    def isatty(self) -> bool:
        return True


def preset_config(tmp_path: Path) -> Config:
    """The built-in presets (no config file), with the conversation store in tmp_path."""
    cfg = load_config(str(tmp_path / "missing.toml"))
    cfg.store.path = str(tmp_path / "chat.db")
    return cfg


class ReplRig:
    """A session as `chat` opens it (open_session's arguments), with fake qwen and zhipu providers, and
    one REPL over it whose keys come through a pipe.

    stdout is a plain pipe (the answer text exactly as streamed); stderr says it is a terminal, so the
    dim lines land there too (uncoloured when NO_COLOR is set). `run` may be called again: the same
    REPL goes on reading the same pipe, so state between runs (prompt, toolbar, attachments) can be
    checked.
    """

    def __init__(self, cfg: Config, **options: Any) -> None:
        self.cfg = cfg
        self.out, self.err = io.StringIO(), TerminalText()
        self.term = Terminal(out=self.out, err=self.err, stdin=io.StringIO(), environ={"TERM": "xterm", "NO_COLOR": "1"})
        # notices (retries) reach the terminal as `chat` wires them: the session's notify is term.notice
        self.fakes: dict[str, FakeProvider] = {name: fake_for(cfg, name, self.term.notice) for name in FAKED}
        self.session, self.info = open_session(cfg, notify=self.term.notice, providers=self.fakes, **options)
        self._stack = ExitStack()
        self._stack.callback(self.session.close)
        self.pipe = self._stack.enter_context(create_pipe_input())
        self.repl = Repl(self.session, self.term, pt_input=self.pipe, pt_output=DummyOutput(),
                         history=InMemoryHistory())
        if self.info is not None:  # as run_repl does
            self.repl.resumed(self.info)

    @property
    def qwen(self) -> FakeProvider:
        return self.fakes["qwen"]

    @property
    def zhipu(self) -> FakeProvider:
        return self.fakes["zhipu"]

    def run(self, *lines: str, keys: str = "", end: str | None = CTRL_D) -> int:
        """Type each line and Enter, then keys as they are, then end (None: close the input); the exit status.

        The default end, Ctrl-D on the empty line after the last Enter, means the loop never waits for
        more input than was typed, and leaves the input history alone (as /exit would not).
        """
        self.pipe.send_text("".join(line + ENTER for line in lines) + keys + (end or ""))
        if end is None:
            self.pipe.close()
        stuck: list[bool] = []

        def give_up() -> None:  # the loop ignored the end: end the input so the test fails instead of hanging
            stuck.append(True)
            self.pipe.close()

        watchdog = threading.Timer(RUN_TIMEOUT, give_up)
        watchdog.start()
        try:
            status = self.repl.run()
        finally:
            watchdog.cancel()
        assert not stuck, f"the REPL still read input {RUN_TIMEOUT:g} s after {end!r}; it wrote:\n{self.said()}"
        return status

    def close(self) -> None:
        self._stack.close()

    def prompt(self) -> str:
        """The prompt the next line is typed after."""
        return "".join(item[1] for item in self.repl._message())

    def toolbar(self) -> str:
        """The bottom toolbar under the prompt."""
        return "".join(item[1] for item in self.repl._toolbar())

    def said(self) -> str:
        return self.out.getvalue()

    def chat_lines(self) -> list[str]:
        """The `chat: ...` lines on stderr (errors and notices)."""
        return [line for line in self.err.getvalue().splitlines() if line.startswith("chat: ")]


def contents(request: ChatRequest) -> list[Any]:
    """The content of each message a request carried."""
    return [m.content for m in request.messages]


def roles(request: ChatRequest) -> list[tuple[str, Any]]:
    """(role, content) of each message a request carried."""
    return [(m.role, m.content) for m in request.messages]
