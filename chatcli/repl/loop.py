"""The interactive `chat` session: the prompt loop, key bindings and toolbar around one ChatSession."""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from chatcli.app import signals
from chatcli.app.attachments import Attachment
from chatcli.app.session import ChatSession, Content
from chatcli.core.messages import Event
from chatcli.errors import ChatError, Terminated
from chatcli.repl import commands
from chatcli.repl.completer import SlashCompleter
from chatcli.store.store import ConversationInfo
from chatcli.ui.lines import kilo, stats_line
from chatcli.ui.render import renderer_for
from chatcli.ui.terminal import Terminal


class Repl:
    """The prompt loop of one session: reads lines, runs commands, shows answers.

    `pt_input` / `pt_output` and `history` are prompt-toolkit's, for tests (pipe input, dummy output).
    """

    def __init__(self, session: ChatSession, term: Terminal | None = None, *, pt_input: Any = None,
                 pt_output: Any = None, history: History | None = None) -> None:
        self.session = session
        self.term = term or Terminal()
        self.exit_armed = False
        self.attached: list[Attachment] = []  # for the next message
        self._pt = dict(input=pt_input, output=pt_output)
        self._history = history
        self._warmed = False

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        """Read and answer until the user leaves; the exit status."""
        prompt = self._prompt_session()
        while True:
            self.exit_armed = False
            try:
                text = self._read(prompt)
            except EOFError:
                return 0
            except KeyboardInterrupt:  # only if prompt_toolkit let one through
                continue
            text = text.strip()
            if not text:
                continue
            if text.startswith("/") and not text.startswith("//"):
                if commands.dispatch(self, text):
                    return 0
                continue
            self.send(text[1:] if text.startswith("//") else text)

    def _read(self, prompt: PromptSession[str]) -> str:
        """One input. SIGTERM/SIGHUP end the prompt from inside its event loop (see `_end_soon`)."""
        app = prompt.app

        def started() -> None:
            signum = signals.pending()
            if signum is not None:  # arrived before the event loop ran
                _end(app, signum)
            self._warm_up()

        with signals.deferred(lambda signum: _end_soon(app, signum)):
            return prompt.prompt(self._message, pre_run=started)

    def _prompt_session(self) -> PromptSession[str]:
        return PromptSession(
            history=self._history or file_history(),
            completer=SlashCompleter(self),
            complete_while_typing=False,
            key_bindings=bindings(self),
            bottom_toolbar=self._toolbar,
            enable_history_search=False,  # Up/Down walk the history; Ctrl-R searches it
            **{k: v for k, v in self._pt.items() if v is not None},
        )

    def _message(self) -> FormattedText:
        s = self.session
        return FormattedText([("ansicyan", s.provider_name), ("", ":"), ("ansigreen", s.model), ("bold", "> ")])

    def _toolbar(self) -> FormattedText:
        if self.exit_armed:
            return FormattedText([("", " Press Ctrl-C again or Ctrl-D to exit")])
        s = self.session
        parts = [
            f"context {kilo(s.context_used())}/{kilo(s.budget())}",
            f"tokens used {kilo(s.totals.total_tokens)}",
            "tools on" if s.tools_on else "tools off",
        ]
        if self.attached:
            parts.append(f"{len(self.attached)} attached")
        for name in ("think", "search"):
            on = getattr(s.flags, name)
            if on is not None:
                parts.append(f"{name} {'on' if on else 'off'}")
        return FormattedText([("", " " + " · ".join(parts) + " · /help")])

    def _warm_up(self) -> None:
        """Import the SDK and renderer in the background while the first message is typed."""
        if self._warmed:
            return
        self._warmed = True
        from chatcli.providers import ADAPTERS

        module = ADAPTERS.get(self.session.provider_config.kind, (None,))[0]
        names = [m for m in (module, "chatcli.ui.mdstream", "rich.markdown") if m]

        def load() -> None:
            for name in names:
                try:
                    importlib.import_module(name)
                except Exception:  # the real import later reports any problem properly
                    pass

        threading.Thread(target=load, name="warm-up", daemon=True).start()

    # --- answering ---------------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Send one message with what is attached; errors and Ctrl-C leave the session going."""
        try:
            self.session.check()
        except ChatError as e:
            return self.error(e.message)
        content = self._with_attachments(text)
        if content is not None:
            self.answer(lambda: self.session.send(content))

    def _with_attachments(self, text: str) -> Content | None:
        """The message with the attachments (documents uploaded now); None if that failed."""
        if not self.attached:
            return text
        try:
            content = self.session.content(text, self.attached)
        except ChatError as e:
            self.error(f"{e.message} — nothing sent; /detach drops the attachments")
            return None
        except KeyboardInterrupt:
            self.error("interrupted — nothing sent; the attachments are still there (/detach drops them)")
            return None
        self.attached = []
        return content

    def answer(self, start: Callable[[], Iterator[Event]]) -> None:
        """Show the events of a turn that start() begins, then the outcome and a stats line."""
        s = self.session
        renderer = renderer_for(self.term, show_reasoning=s.cfg.show_reasoning)
        started = time.monotonic()
        failure: str | None = None
        try:
            for event in start():
                renderer.handle(event)
        except KeyboardInterrupt:
            failure = "interrupted"
        except ChatError as e:
            failure = e.message
        finally:
            renderer.close()
            renderer.end_line()
        turn = s.last
        if failure == "interrupted":
            renderer.line("interrupted — what arrived is kept; /retry asks again")
        elif failure:
            self.error(failure + " — /retry to try again")
        elif turn is not None:
            outcome = s.outcome(turn)
            if outcome is not None:
                renderer.line(f"chat: {outcome.message}")
        if turn is not None and not failure:
            renderer.line(stats_line(s.model, turn.usage, time.monotonic() - started))

    def resumed(self, info: ConversationInfo) -> None:
        """Say which saved conversation goes on."""
        s = self.session
        turns = sum(1 for m in s.conversation.messages if m.role == "user")
        self.say(f"continuing {info.id} “{info.title}” ({turns} turns, {s.provider_name}:{s.model})")

    # --- output ------------------------------------------------------------------------------

    def say(self, text: str, dim: bool = True) -> None:
        self.term.say(text, dim)

    def error(self, message: str) -> None:
        self.term.error(message)


def bindings(repl: Repl) -> KeyBindings:
    """Esc-Enter adds a line; Ctrl-C clears the line, or arms and then confirms leaving."""
    kb = KeyBindings()

    @kb.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @kb.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if buf.text:
            buf.reset()
            repl.exit_armed = False
        elif repl.exit_armed:
            event.app.exit(exception=EOFError())
        else:
            repl.exit_armed = True

    return kb


def file_history() -> History:
    """The input history, kept across runs in the XDG state dir (owner-only)."""
    import os

    import platformdirs

    directory = platformdirs.user_state_path("chatcli")
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / "history"
        path.touch(mode=0o600, exist_ok=True)
        os.chmod(path, 0o600)
        return FileHistory(str(path))
    except OSError:
        return InMemoryHistory()


def _end_soon(app: Application[Any], signum: int) -> None:
    """From the signal handler: have the prompt's event loop end the prompt with Terminated.

    Raised in the handler itself, Terminated could land inside one of the loop's callbacks, which
    prompt_toolkit reports as an unhandled exception, waiting for Enter with the terminal in raw mode.
    """
    loop = app.loop
    if loop is not None:
        with contextlib.suppress(RuntimeError):  # the loop is closing: signals.deferred() raises instead
            loop.call_soon_threadsafe(_end, app, signum)


def _end(app: Application[Any], signum: int) -> None:
    """End the prompt with Terminated, unless it has just ended anyway."""
    if app.future is not None and not app.future.done():
        app.exit(exception=Terminated(signum))


def run_repl(session: ChatSession, info: ConversationInfo | None = None, term: Terminal | None = None) -> int:
    """Run the interactive session (saying first which saved conversation it continues, if any).

    SIGTERM/SIGHUP end it with Terminated (the partial answer saved, the terminal as it was found).
    """
    term = term or Terminal()
    with signals.terminating(term):
        repl = Repl(session, term)
        if info is not None:
            repl.resumed(info)
        return repl.run()
