"""The interactive `chat` session: prompt-toolkit input, slash commands, streamed answers."""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings

from chatcli import attachments
from chatcli.attachments import Attachment
from chatcli.config import Config
from chatcli.context import budget, estimate_messages
from chatcli.conversation import Conversation, finish_notice
from chatcli.errors import ChatError, ConfigError
from chatcli.messages import Usage
from chatcli.options import GenerationOptions
from chatcli.pricing import money, price_for
from chatcli.providers import ADAPTERS, create_provider
from chatcli.providers.base import Provider
from chatcli.render import make_renderer, notice
from chatcli.saving import Recorder, load, open_store
from chatcli.sanitize import strip_controls

HELP = """\
/help                 this list
/provider NAME        switch provider (the conversation carries over)
/model NAME           switch model
/system [TEXT]        show or set the system prompt
/clear                start a new conversation
/history              show this conversation
/retry                regenerate the last answer
/undo                 drop the last turn
/tools on|off         offer local tools to the model, or not
/think on|off         ask the model to reason first, or not
/search on|off        let the model search the web (DashScope, Zhipu), or not
/image PATH|URL       attach an image to the next message (no argument: list what is attached)
/video FRAME|DIR      add frames of one video to the next message: images, or a directory of them
/file PATH            attach a text file or a document (pdf, docx, ...) to the next message
/detach               drop what is attached and not sent yet
/usage                tokens used in this conversation
/sessions             recent saved conversations
/load ID              continue a saved conversation (an id prefix is enough)
/exit                 leave (also Ctrl-D, or Ctrl-C twice on an empty line)
Enter sends; Esc-Enter or Alt-Enter adds a line; Up/Down and Ctrl-R search the input history.
Start a message with // to send text that begins with /."""

COMMANDS = ["/help", "/provider", "/model", "/system", "/clear", "/history", "/retry", "/undo",
            "/tools", "/think", "/search", "/image", "/video", "/file", "/detach", "/usage", "/sessions",
            "/load", "/exit"]
PATH_COMMANDS = ("/image", "/video", "/file")


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


class SlashCompleter(Completer):
    """Completes slash commands and their arguments (providers, models, on/off)."""

    def __init__(self, state: ReplState) -> None:
        self.state = state
        self.paths = PathCompleter(expanduser=True)

    def get_completions(self, document, complete_event):  # type: ignore[no-untyped-def]
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        command, space, arg = text.partition(" ")
        if space and command in PATH_COMMANDS:
            yield from self.paths.get_completions(Document(arg, len(arg)), complete_event)
            return
        if not space:
            options, word = COMMANDS, command
        else:
            options, word = self._arguments(command), arg
        for option in options:
            if option.startswith(word) and option != word:
                yield Completion(option, start_position=-len(word))

    def _arguments(self, command: str) -> list[str]:
        if command == "/provider":
            return list(self.state.cfg.providers)
        if command == "/model":
            pcfg = self.state.cfg.providers[self.state.provider_name]
            return list(dict.fromkeys([pcfg.model, *pcfg.models]))
        if command in ("/tools", "/think", "/search"):
            return ["on", "off"]
        return []


class Repl:
    """One interactive session."""

    def __init__(self, state: ReplState, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.state = state
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.exit_armed = False
        self.attached: list[Attachment] = []  # for the next message
        self.commands: dict[str, Callable[[str], bool | None]] = {
            "/help": lambda _: self.say(HELP),
            "/provider": self.cmd_provider,
            "/model": self.cmd_model,
            "/system": self.cmd_system,
            "/clear": self.cmd_clear,
            "/history": self.cmd_history,
            "/retry": self.cmd_retry,
            "/undo": self.cmd_undo,
            "/tools": self.cmd_tools,
            "/think": self.cmd_think,
            "/search": self.cmd_search,
            "/image": lambda arg: self.cmd_attach("image", arg),
            "/video": lambda arg: self.cmd_attach("video", arg),
            "/file": lambda arg: self.cmd_attach("file", arg),
            "/detach": self.cmd_detach,
            "/usage": self.cmd_usage,
            "/sessions": self.cmd_sessions,
            "/load": self.cmd_load,
            "/exit": lambda _: True,
            "/quit": lambda _: True,
        }

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
        names = [m for m in (module, "chatcli.mdstream", "rich.markdown") if m]

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
        tools = None
        if s.tools_on and s.cfg.tools.enabled:
            from chatcli.tools.builtins import builtin_registry

            tools = builtin_registry(s.cfg.tools)
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
                                             max_rounds=s.cfg.tools.max_rounds, budget=budget(s.model, s.cfg.context.max_tokens), generation=generation):
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
            price = price_for(s.cfg.prices, s.model)
            if price is not None:
                s.cost = (s.cost or 0.0) + price.cost(turn.usage)
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

    # --- slash commands ------------------------------------------------------------------

    def command(self, text: str) -> bool:
        """Run a slash command; True means leave."""
        name, _, arg = text.partition(" ")
        handler = self.commands.get(name)
        if handler is None:
            close = [c for c in COMMANDS if c.startswith(name[:3])]
            hint = f" (did you mean {close[0]}?)" if close else ""
            self.error(f"unknown command {name}{hint}; /help lists them, // sends text starting with /")
            return False
        return bool(handler(arg.strip()))

    def cmd_provider(self, arg: str) -> None:
        s = self.state
        if not arg:
            return self.say(f"provider: {s.provider_name} ({', '.join(s.cfg.providers)})")
        try:
            pcfg = s.cfg.provider(arg)
        except ConfigError as e:
            return self.error(e.message)
        s.provider_name, s.model = pcfg.name, pcfg.model
        self.say(f"provider {pcfg.name}, model {pcfg.model}; the conversation carries over")

    def cmd_model(self, arg: str) -> None:
        if not arg:
            return self.say(f"model: {self.state.model}")
        self.state.model = arg
        self.say(f"model {arg}")

    def cmd_system(self, arg: str) -> None:
        conv = self.state.conversation
        if not arg:
            return self.say(f"system prompt: {conv.system or '(none)'}")
        conv.system = arg
        self.state.recorder.sync_system(conv)
        self.say("system prompt set")

    def cmd_clear(self, _: str) -> None:
        self.state.conversation.clear()
        self.state.recorder.start(self.state.conversation)
        self.state.last_prompt_tokens = 0
        self.say("new conversation")

    def cmd_history(self, _: str) -> None:
        lines = []
        for m in self.state.conversation.messages:
            content = attachments.describe(m.content)
            if m.role == "tool":
                lines.append(f"  tool {m.name}: {_short(content)}")
                continue
            mark = " [interrupted]" if m.interrupted else ""
            if content:
                lines.append(f"{m.role}{mark}: {content}")
            lines.extend(f"  ⚙ {c.name}({c.arguments})" for c in m.tool_calls)
        self.say("\n".join(lines) if lines else "(empty conversation)", dim=False)

    def cmd_retry(self, _: str) -> None:
        conv = self.state.conversation
        i = conv.last_user_index()
        content = conv.messages[i].content if i is not None else None  # with its attachments, if any
        if self._undo() is None:
            return self.error("nothing to retry")
        self.send(content or "", attach=False)

    def cmd_undo(self, _: str) -> None:
        text = self._undo()
        self.say("nothing to undo" if text is None else f"dropped the last turn: {_short(text)}")

    def _undo(self) -> str | None:
        text = self.state.conversation.undo()
        if text is not None:
            self.state.recorder.truncated(self.state.conversation)
        return text

    def cmd_sessions(self, _: str) -> None:
        try:
            rows = self.state.recorder.store.list(20)
        except ChatError as e:
            return self.error(e.message)
        current = self.state.recorder.conversation_id
        lines = [f"{'*' if r.id == current else ' '} {r.id}  {_when(r.updated)}  {r.message_count:>3} msgs  {r.title}"
                 for r in rows]
        self.say("\n".join(lines) + "\n/load ID continues one" if lines else "no saved conversations yet")

    def cmd_load(self, arg: str) -> None:
        if not arg:
            return self.error("usage: /load ID (see /sessions)")
        try:
            self.resume(arg)
        except ChatError as e:
            self.error(e.message)

    def resume(self, ref: str | None) -> None:
        """Continue a saved conversation (the last one when ref is None) with its provider and model."""
        s = self.state
        conversation, info = load(s.recorder.store, ref)
        if info.provider in s.cfg.providers:
            s.provider_name, s.model = info.provider, info.model or s.cfg.providers[info.provider].model
        s.conversation = conversation
        s.recorder.start(conversation, info.id)
        s.last_prompt_tokens = 0
        turns = sum(1 for m in conversation.messages if m.role == "user")
        self.say(f"continuing {info.id} “{info.title}” ({turns} turns, {s.provider_name}:{s.model})")

    def cmd_tools(self, arg: str) -> None:
        on = _on_off(arg)
        if on is None:
            return self.error("usage: /tools on|off")
        self.state.tools_on = on
        self.say(f"tools {'on' if on else 'off'}")

    def cmd_think(self, arg: str) -> None:
        on = _on_off(arg)
        if on is None:
            return self.error("usage: /think on|off")
        self.state.flags.think = on
        self.say(f"thinking {'on' if on else 'off'}")

    def cmd_search(self, arg: str) -> None:
        on = _on_off(arg)
        if on is None:
            return self.error("usage: /search on|off")
        self.state.flags.search = on
        self.say(f"web search {'on' if on else 'off'}")

    def cmd_attach(self, kind: str, arg: str) -> None:
        """/image, /video, /file: check the path now, send it with the next message."""
        if not arg:
            return self.say(attachments.listing(self.attached))
        value = attachments.path_argument(arg)
        try:
            if kind == "video":
                found = attachments.video(value)
            else:
                found = [attachments.image(value) if kind == "image" else attachments.document(value)]
        except ChatError as e:
            return self.error(e.message)
        self.attached += found
        what = found[0].label() if kind != "video" else f"{len(found)} video frame{'s' if len(found) > 1 else ''}"
        more = f" ({len(self.attached)} attachments now)" if len(self.attached) > len(found) else ""
        self.say(f"attached {what} to the next message{more}")

    def cmd_detach(self, _: str) -> None:
        n, self.attached = len(self.attached), []
        self.say(f"dropped {n} attachment{'s' if n != 1 else ''}" if n else "nothing was attached")

    def cmd_usage(self, _: str) -> None:
        t = self.state.totals
        extra = ""
        if t.cached_tokens:
            extra += f", {t.cached_tokens:,} cached"
        if t.reasoning_tokens:
            extra += f", {t.reasoning_tokens:,} reasoning"
        if self.state.cost is not None:
            extra += f" · cost {money(self.state.cost, self.state.cfg.prices)}"
        self.say(f"this conversation: {self.state.requests} requests, {t.prompt_tokens:,} in, "
                 f"{t.completion_tokens:,} out, {t.total_tokens:,} total{extra}")

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
    from chatcli.render import use_color

    return use_color(stream)


def _stats(model: str, usage: Usage | None, seconds: float) -> str:
    if usage is None:
        return f"{model} · {seconds:.1f} s"
    rate = usage.completion_tokens / seconds if seconds > 0 else 0.0
    return (f"{model} · {usage.prompt_tokens:,} in / {usage.completion_tokens:,} out · "
            f"{seconds:.1f} s · {rate:.0f} tok/s")


def _on_off(arg: str) -> bool | None:
    return {"on": True, "off": False}.get(arg.lower())


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


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
