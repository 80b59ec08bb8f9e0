"""The REPL's slash commands: what each does, their help, and completing them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from prompt_toolkit.completion import Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from chatcli.app import attachments
from chatcli.config.prices import money
from chatcli.errors import ChatError, ConfigError
from chatcli.store.recorder import load

if TYPE_CHECKING:
    from chatcli.repl.loop import ReplState

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


class SlashCommands:
    """The commands, as methods of the session (a mixin of chatcli.repl.Repl)."""

    state: ReplState
    attached: list[attachments.Attachment]
    say: Callable[..., None]
    error: Callable[[str], None]
    send: Callable[..., None]

    def command_table(self) -> dict[str, Callable[[str], bool | None]]:
        """Command name -> handler; a handler returning True ends the session."""
        return {
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

    def command(self, text: str) -> bool:
        """Run a slash command; True means leave."""
        name, _, arg = text.partition(" ")
        handler = self.command_table().get(name)
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
        self._switch("/tools", "tools", arg, lambda on: setattr(self.state, "tools_on", on))

    def cmd_think(self, arg: str) -> None:
        self._switch("/think", "thinking", arg, lambda on: setattr(self.state.flags, "think", on))

    def cmd_search(self, arg: str) -> None:
        self._switch("/search", "web search", arg, lambda on: setattr(self.state.flags, "search", on))

    def _switch(self, command: str, what: str, arg: str, apply: Callable[[bool], None]) -> None:
        """An on|off command."""
        on = _on_off(arg)
        if on is None:
            return self.error(f"usage: {command} on|off")
        apply(on)
        self.say(f"{what} {'on' if on else 'off'}")

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


def _on_off(arg: str) -> bool | None:
    return {"on": True, "off": False}.get(arg.lower())


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
