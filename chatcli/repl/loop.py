"""The interactive `chat` session: prompt-toolkit input, slash commands, streamed answers."""

from __future__ import annotations

import importlib
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings

from chatcli.app import attachments
from chatcli.app.attachments import Attachment
from chatcli.config import Config
from chatcli.config.prices import cost_of
from chatcli.core.context import budget, estimate_messages
from chatcli.core.conversation import Conversation, finish_notice
from chatcli.core.messages import Usage
from chatcli.core.options import GenerationOptions
from chatcli.errors import ChatError
from chatcli.providers import ADAPTERS, create_provider
from chatcli.providers.base import Provider
from chatcli.repl.commands import SlashCommands, SlashCompleter
from chatcli.store.recorder import Recorder, open_store
from chatcli.tools.builtins import tools_for
from chatcli.ui.render import make_renderer, notice
from chatcli.ui.sanitize import strip_controls


@dataclass
class ReplState:
    """What the session is using now."""

    cfg: Config
    provider_name: str
    model: str
    conversation: Conversation
    tools_on: bool = True
    flags: GenerationOptions = field(default_factory=GenerationOptions)  # flags and /think, /search
    cost: float | None = None  # of the answers whose model has a price in [prices]; None: none had
    totals: Usage = field(default_factory=Usage)
    requests: int = 0
    last_prompt_tokens: int = 0
    providers: dict[str, Provider] = field(default_factory=dict)
    recorder: Recorder | None = None


class Repl(SlashCommands):
    """One interactive session."""

    def __init__(self, state: ReplState, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.state = state
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.exit_armed = False
        self.attached: list[Attachment] = []  # for the next message

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        """Read and answer until the user leaves; the exit status."""
        session = self._session()
        while True:
            self.exit_armed = False
            try:
                text = session.prompt(self._message, pre_run=self._warm_up)
            except EOFError:
                return 0
            except KeyboardInterrupt:  # only if prompt_toolkit let one through
                continue
            text = text.strip()
            if not text:
                continue
            if text.startswith("/") and not text.startswith("//"):
                if self.command(text):
                    return 0
                continue
            self.send(text[1:] if text.startswith("//") else text)

    def _session(self) -> PromptSession:
        return PromptSession(
            history=_history(),
            completer=SlashCompleter(self.state),
            complete_while_typing=False,
            key_bindings=self._bindings(),
            bottom_toolbar=self._toolbar,
            enable_history_search=False,  # Up/Down walk the history; Ctrl-R searches it
        )

    def _bindings(self) -> KeyBindings:
        kb = KeyBindings()

        @kb.add("escape", "enter")
        def _newline(event) -> None:  # type: ignore[no-untyped-def]
            event.current_buffer.insert_text("\n")

        @kb.add("c-c")
        def _interrupt(event) -> None:  # type: ignore[no-untyped-def]
            buf = event.current_buffer
            if buf.text:
                buf.reset()
                self.exit_armed = False
            elif self.exit_armed:
                event.app.exit(exception=EOFError())
            else:
                self.exit_armed = True

        return kb

    def _message(self) -> FormattedText:
        s = self.state
        return FormattedText([("ansicyan", s.provider_name), ("", ":"), ("ansigreen", s.model), ("bold", "> ")])

    def _toolbar(self) -> FormattedText:
        if self.exit_armed:
            return FormattedText([("", " Press Ctrl-C again or Ctrl-D to exit")])
        s = self.state
        used = max(s.last_prompt_tokens, estimate_messages(s.conversation.messages))
        parts = [
            f"context {_k(used)}/{_k(budget(s.model, s.cfg.context.max_tokens))}",
            f"tokens used {_k(s.totals.total_tokens)}",
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
        module = ADAPTERS.get(self.state.cfg.providers[self.state.provider_name].kind, (None,))[0]
        names = [m for m in (module, "chatcli.ui.mdstream", "rich.markdown") if m]

        def load() -> None:
            for name in names:
                try:
                    importlib.import_module(name)
                except Exception:  # the real import later reports any problem properly
                    pass

        threading.Thread(target=load, name="warm-up", daemon=True).start()
        self._warm_up = lambda: None  # type: ignore[method-assign]

    # --- answering ---------------------------------------------------------------------------

    def provider(self) -> Provider:
        s = self.state
        if s.provider_name not in s.providers:
            s.providers[s.provider_name] = create_provider(s.cfg.providers[s.provider_name],
                                                           notify=lambda m: notice(m, self.err))
        return s.providers[s.provider_name]

    def send(self, text: str | list[dict], *, attach: bool = True) -> None:
        """Send one message (with what is attached) and show the answer; errors and Ctrl-C leave the session going."""
        s = self.state
        try:
            provider = self.provider()
        except ChatError as e:
            self.error(e.message)
            return
        tools = tools_for(s.cfg.tools, s.model, s.tools_on)
        try:
            pcfg = s.cfg.providers[s.provider_name]
            generation = GenerationOptions.from_config(pcfg).merged(s.flags).validate()
            provider.check_options(generation)
        except ChatError as e:
            self.error(e.message)
            return
        content = self._with_attachments(text, provider) if attach and self.attached and isinstance(text, str) else text
        if content is None:
            return
        renderer = make_renderer(self.out, self.err, show_reasoning=s.cfg.show_reasoning)
        started = time.monotonic()
        failure: str | None = None
        try:
            for event in s.conversation.send(provider, s.model, content, tools=tools,
                                             max_rounds=s.cfg.tools.max_rounds, generation=generation,
                                             budget=budget(s.model, s.cfg.context.max_tokens)):
                renderer.handle(event)
        except KeyboardInterrupt:
            failure = "interrupted"
        except ChatError as e:
            failure = e.message
        finally:
            renderer.close()
        self._account(time.monotonic() - started, renderer, failure)

    def _with_attachments(self, text: str, provider: Provider) -> str | list[dict] | None:
        """The message with the attachments (documents uploaded now); None if that failed."""
        try:
            content = attachments.build_content(text, self.attached, provider, self.state.model)
        except ChatError as e:
            self.error(f"{e.message} — nothing sent; /detach drops the attachments")
            return None
        except KeyboardInterrupt:
            self.error("interrupted — nothing sent; the attachments are still there (/detach drops them)")
            return None
        self.attached = []
        return content

    def _account(self, seconds: float, renderer, failure: str | None) -> None:  # type: ignore[no-untyped-def]
        s = self.state
        turn = s.conversation.last
        if turn is not None and turn.usage is not None:
            s.totals = s.totals + turn.usage
            s.requests += turn.rounds + 1
            s.last_prompt_tokens = turn.usage.prompt_tokens + turn.usage.completion_tokens
            amount = cost_of(s.cfg.prices, s.model, turn.usage)
            if amount is not None:
                s.cost = (s.cost or 0.0) + amount
        if failure == "interrupted":
            renderer.line("interrupted — what arrived is kept; /retry asks again")
        elif failure:
            self.error(failure + " — /retry to try again")
        elif turn is not None:
            found = finish_notice(turn.finish_reason)
            if found:
                renderer.line(f"chat: {found[0]}")
        if turn is not None and not failure:
            renderer.line(_stats(s.model, turn.usage, seconds))

    # --- output ------------------------------------------------------------------------------

    def say(self, text: str, dim: bool = True) -> None:
        text = strip_controls_keep_lines(text)
        self.out.write(f"\x1b[2m{text}\x1b[0m\n" if dim and _color(self.out) else text + "\n")
        self.out.flush()

    def error(self, message: str) -> None:
        self.err.write(f"chat: {strip_controls(message)}\n")
        self.err.flush()


def strip_controls_keep_lines(text: str) -> str:
    return "\n".join(strip_controls(line) for line in text.split("\n"))


def _color(stream: TextIO) -> bool:
    from chatcli.ui.render import use_color

    return use_color(stream)


def _stats(model: str, usage: Usage | None, seconds: float) -> str:
    if usage is None:
        return f"{model} · {seconds:.1f} s"
    rate = usage.completion_tokens / seconds if seconds > 0 else 0.0
    return (f"{model} · {usage.prompt_tokens:,} in / {usage.completion_tokens:,} out · "
            f"{seconds:.1f} s · {rate:.0f} tok/s")


def _k(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def _history():  # type: ignore[no-untyped-def]
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


def run_repl(cfg: Config, provider: str | None, model: str | None, system: str | None, *,
             resume: str | None = None, save: bool = True, generation: GenerationOptions | None = None) -> int:
    """Start the interactive session; resume is an id prefix, "" for the last conversation, or None."""
    pcfg = cfg.provider(provider)
    flags = (generation or GenerationOptions()).validate()
    state = ReplState(cfg=cfg, provider_name=pcfg.name, model=model or pcfg.model,
                      conversation=Conversation(system), tools_on=cfg.tools.enabled, flags=flags)
    repl = Repl(state)
    store = open_store(cfg, save, lambda m: notice(m, repl.err))
    state.recorder = Recorder(store, lambda: (state.provider_name, state.model))
    state.recorder.start(state.conversation)
    if resume is not None:
        repl.resume(resume or None)
        if provider:  # flags given now win over what the conversation last used
            state.provider_name, state.model = pcfg.name, model or pcfg.model
        elif model:
            state.model = model
        if system:
            state.conversation.system = system
            state.recorder.sync_system(state.conversation)
    try:
        return repl.run()
    finally:
        store.close()
