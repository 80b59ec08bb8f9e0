"""The interactive `chat` session: the prompt loop, the toolbar and the answers around one ChatSession."""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.application.current import get_app_or_none
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from chatcli.app import signals
from chatcli.app.attachments import Attachment
from chatcli.app.session import ChatSession, Content
from chatcli.app.tally import Stopwatch
from chatcli.config.prices import money
from chatcli.core.messages import Event
from chatcli.errors import ChatError, Terminated
from chatcli.repl import commands, role_cmd, video_cmd  # noqa: F401 (role_cmd, video_cmd register /role, /video-gen)
from chatcli.repl.completer import SlashCompleter
from chatcli.repl.consent import repl_asker
from chatcli.repl.keys import bindings
from chatcli.repl.typeahead import KeyReader, QueueStatus, TypeAhead, queued_text, reading
from chatcli.store.store import ConversationInfo
from chatcli.ui.cells import cells, fit
from chatcli.ui.hints import retry_hint
from chatcli.ui.lines import kilo, stats_line
from chatcli.ui.render import Notify, Renderer, renderer_for
from chatcli.ui.sanitize import visible
from chatcli.ui.terminal import Terminal

LEAVE_HINT = "press Ctrl-C again or Ctrl-D to leave"


class Repl:
    """The prompt loop of one session: reads lines, runs commands, shows answers.

    `pt_input` / `pt_output` and `history` are prompt-toolkit's, for tests (pipe input, dummy output).
    """

    def __init__(self, session: ChatSession, term: Terminal | None = None, *, pt_input: Any = None,
                 pt_output: Any = None, history: History | None = None, notify: Notify | None = None) -> None:
        self.session = session
        self.term = term or Terminal()
        self.notify = notify  # the session's notices: shown by the renderer while an answer is live
        self.exit_armed = False
        self.attached: list[Attachment] = []  # for the next message
        self._pt = dict(input=pt_input, output=pt_output)
        self._history = history
        self._warmed = False
        self.typeahead = TypeAhead()  # keys typed while an answer streamed: the next prompt's, queued lines
        self.key_reader: KeyReader | None = None  # while an answer streams (a tool's question pauses it)
        session.tool_host.consent.asker = repl_asker(self)

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        """Read and answer until the user leaves; the exit status."""
        prompt = self._prompt_session()
        while True:
            self.exit_armed = False
            text = self.typeahead.next_message()  # Enter typed during the last answer
            if text is not None:
                self.say("".join(item[1] for item in self._message()) + text, dim=False)  # as if typed
            else:
                try:
                    text = self._read(prompt)
                except EOFError:
                    return 0
                except KeyboardInterrupt:  # only if prompt_toolkit let one through
                    continue
            text = text.strip()
            if not text:
                continue
            try:
                if text.startswith("/") and not text.startswith("//"):
                    if commands.dispatch(self, text):
                        return 0
                    continue
                self.send(text[1:] if text.startswith("//") else text)
            except KeyboardInterrupt:  # a second Ctrl-C while the first was being dealt with
                self.typeahead.clear()
                self.say("interrupted")

    def _read(self, prompt: PromptSession[str]) -> str:
        """One input. SIGTERM/SIGHUP end the prompt from inside its event loop (see `_end_soon`)."""
        app = prompt.app

        def started() -> None:
            signum = signals.pending()
            if signum is not None:  # arrived before the event loop ran
                _end(app, signum)
            self._warm_up()

        with signals.deferred(lambda signum: _end_soon(app, signum)):
            return prompt.prompt(self._message, pre_run=started, default=self.typeahead.take_line())

    def _prompt_session(self) -> PromptSession[str]:
        session: PromptSession[str] = PromptSession(
            history=self._history or file_history(),
            completer=SlashCompleter(self),
            complete_while_typing=False,
            key_bindings=bindings(self),
            bottom_toolbar=self._toolbar,
            enable_history_search=False,  # Up/Down walk the history; Ctrl-R searches it
            **{k: v for k, v in self._pt.items() if v is not None},
        )
        session.default_buffer.on_text_changed += self._disarm
        return session

    def _disarm(self, _buffer: object = None) -> None:
        """Typing something takes back the first Ctrl-C on an empty line."""
        self.exit_armed = False

    def _message(self) -> FormattedText:
        s = self.session
        persona = s.role.bot_name if s.role is not None else None
        who = [("", " "), ("ansiyellow", fit(visible(persona), 16))] if persona else []
        return FormattedText([("ansicyan", s.provider_name), ("", ":"), ("ansigreen", s.model), *who, ("bold", "> ")])

    def _toolbar(self, width: int | None = None) -> FormattedText:
        """One line under the prompt, never wider than the terminal (width: its columns)."""
        width = width or self._width()
        if self.exit_armed:
            return FormattedText([("", fit(" " + LEAVE_HINT, width - 1))])
        s = self.session
        parts = [  # (importance, text): the least important go first when the line is too wide
            (0, f"context {kilo(s.context_used())}/{kilo(s.budget())}"),
            (4, f"tokens used {kilo(s.totals.total_tokens)}"),
            (3, "tools on" if s.tools_on else "tools off"),
        ]
        if self.attached:
            parts.append((1, f"{len(self.attached)} attached"))
        for name in ("think", "search"):
            on = getattr(s.flags, name)
            if on is not None:
                parts.append((2, f"{name} {'on' if on else 'off'}"))
        parts.append((5, "/help"))
        return FormattedText([("", fit_parts(parts, width - 1))])

    def _width(self) -> int:
        """The columns prompt_toolkit draws in (the terminal's when no prompt runs)."""
        app = get_app_or_none()
        if app is not None:
            with contextlib.suppress(Exception):  # no output size (closed, not a terminal)
                return int(app.output.get_size().columns)
        return self.term.width()

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
        """Show the events of a turn that start() begins, then the outcome and a stats line.

        Keys typed meanwhile are type-ahead (chatcli.repl.typeahead): lines entered are shown as
        queued and sent next, Ctrl-C drops them with the answer, a failure puts them back in the prompt.
        """
        s = self.session
        renderer = renderer_for(self.term, show_reasoning=s.cfg.show_reasoning, hard_breaks=s.cfg.render.hard_breaks)
        live = self.term.is_terminal()  # where renderer.status shows
        queue = QueueStatus(self.typeahead, renderer.status, lambda text: fit(text, self.term.width() - 1))
        clock = Stopwatch()
        failure: ChatError | KeyboardInterrupt | None = None
        route = self.notify if live and self.term.is_terminal(self.term.err) else None  # one screen
        with self._reading_keys(queue.update if live else None) as reader:
            self.key_reader = reader if isinstance(reader, KeyReader) else None
            try:
                if route is not None:
                    route.renderer = renderer
                renderer.waiting()
                if live:
                    queue.start()
                for event in start():
                    clock.see(event)
                    renderer.handle(event)
            except KeyboardInterrupt as e:
                failure = e
            except ChatError as e:
                failure = e
            finally:
                self.key_reader = None
                if route is not None:
                    route.renderer = None
                queue.stop()
                renderer.close()
                renderer.end_line()
        self._outcome(renderer, failure, clock.seconds(), clock.first_token, live and queue.up_to_date())

    def _outcome(self, renderer: Renderer, failure: BaseException | None, seconds: float,
                 first: float | None, queue_shown: bool) -> None:
        """After an answer: how it ended, the stats line, and what becomes of the type-ahead."""
        s = self.session
        turn = s.last
        if isinstance(failure, KeyboardInterrupt):
            self.typeahead.clear()
            renderer.line("interrupted — what arrived is kept; /retry asks again")
        elif isinstance(failure, ChatError):
            self.error(failure.message + retry_hint(failure))
            self.typeahead.line = self.typeahead.take_all()  # not sent after a failure: back to the prompt
        elif turn is not None:
            outcome = s.outcome(turn)
            if outcome is not None:
                renderer.line(f"chat: {outcome.message}")
        if turn is not None and failure is None:
            amount = s.turn_cost(turn)
            cost = money(amount, s.cfg.prices) if amount is not None else None
            renderer.line(stats_line(s.model, turn.usage, seconds, first_token=first, cost=cost))
        if failure is None and not queue_shown:
            for line in self.typeahead.queued:
                renderer.line(fit(queued_text([line]), self.term.width() - 1))

    def _reading_keys(self, on_key: Callable[[], None] | None) -> contextlib.AbstractContextManager[object]:
        """Keys typed in the block go to the type-ahead (when a person types on a terminal)."""
        if not self.term.interactive():
            return contextlib.nullcontext()
        return reading(self.term.stdin, self.typeahead, on_key)

    def greet(self, info: ConversationInfo | None) -> None:
        """Before the first prompt: one short line (or which conversation goes on), then a missing key."""
        s = self.session
        if info is not None:
            self.resumed(info)
        else:
            role = [(1, f"role {visible(s.role.name)}")] if s.role is not None else []
            parts = [(3, "chatcli"), (0, f"{s.provider_name}:{s.model}"), *role, (1, "/help for commands"),
                     (2, "Ctrl-D to leave")]
            self.say(fit_parts(parts, self.term.width() - 1, lead=""))
        problem = s.key_problem()
        if problem:
            self.error(problem)

    def resumed(self, info: ConversationInfo) -> None:
        """Say which saved conversation goes on."""
        s = self.session
        turns = sum(1 for m in s.conversation.messages if m.role == "user")
        role = f", role {visible(s.role.name)}" if s.role is not None else ""
        self.say(f"continuing {info.id} “{info.title}” ({turns} turns, {s.provider_name}:{s.model}{role})")
        from chatcli.repl import transcript

        transcript.show(self, transcript.last_exchange(s.conversation.messages))  # where it left off

    # --- output ------------------------------------------------------------------------------

    def say(self, text: str, dim: bool = True) -> None:
        self.term.say(text, dim)

    def error(self, message: str) -> None:
        self.term.error(message)


def fit_parts(parts: list[tuple[int, str]], width: int, lead: str = " ") -> str:
    """lead, then the (importance, text) parts joined with " · " in their order, dropping the least
    important (highest number) until the line fits width, and cut with "…" if even one does not."""
    kept = list(parts)

    def joined() -> str:
        return lead + " · ".join(text for _, text in kept)

    while len(kept) > 1 and cells(joined()) > width:
        kept.remove(max(kept, key=lambda p: p[0]))
    return fit(joined(), width)


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


def run_repl(session: ChatSession, info: ConversationInfo | None = None, term: Terminal | None = None,
             notify: Notify | None = None) -> int:
    """Run the interactive session (saying first which saved conversation it continues, if any).

    notify is the session's notice callback, if the REPL should route notices through its renderer.
    SIGTERM/SIGHUP end it with Terminated (the partial answer saved, the terminal as it was found).
    """
    term = term or Terminal()
    with signals.terminating(term):
        repl = Repl(session, term, notify=notify)
        repl.greet(info)
        return repl.run()
