"""The slash commands: one registry entry each (name, arguments, help, completion, handler).

`/help`, dispatch and Tab completion all read `COMMANDS`; a handler takes the REPL and the
argument text and returns True to end the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatcli.app import attachments
from chatcli.config.prices import money
from chatcli.errors import ChatError
from chatcli.repl import transcript
from chatcli.store.export import stamp
from chatcli.ui.sanitize import strip_controls, visible

if TYPE_CHECKING:
    from chatcli.app.tally import Tally
    from chatcli.repl.loop import Repl

Handler = Callable[["Repl", str], "bool | None"]
Choice = str | tuple[str, str]  # what Tab puts in, or (that, a note shown beside it)
Choices = Callable[["Repl"], Iterable[Choice]]

RECENT = 20  # conversations /sessions lists and /load offers
KEYS_HELP = (  # one paragraph each in /help
    "Enter sends; Esc-Enter or Alt-Enter adds a line; Up/Down and Ctrl-R search the input history.",
    "Ctrl-X Ctrl-E edits the line in $VISUAL/$EDITOR.",
    "Keys typed while an answer streams wait for the next prompt; Enter there queues the line as the next "
    "message (Ctrl-C drops it with the answer).",
    "Start a message with // to send text that begins with /.",
)


@dataclass(frozen=True)
class Command:
    """One slash command."""

    name: str
    help: str
    handler: Handler
    args: str = ""  # how its argument is written in /help
    aliases: tuple[str, ...] = ()
    choices: Choices | None = None  # what Tab offers for the argument
    paths: bool = False  # Tab completes file paths for the argument

    def usage(self) -> str:
        """E.g. `/exit, /quit` or `/provider NAME`."""
        return " ".join(x for x in (", ".join((self.name, *self.aliases)), self.args) if x)


COMMANDS: list[Command] = []


def command(name: str, help: str, args: str = "", *, aliases: tuple[str, ...] = (), choices: Choices | None = None,
            paths: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler as a slash command."""
    def register(handler: Handler) -> Handler:
        COMMANDS.append(Command(name, help, handler, args, aliases, choices, paths))
        return handler
    return register


def names() -> list[str]:
    """Every command name and alias, in /help order."""
    return [n for c in in_help_order() for n in (c.name, *c.aliases)]


def find(name: str) -> Command | None:
    """The command called name (or by an alias), or None."""
    return next((c for c in COMMANDS if name == c.name or name in c.aliases), None)


def in_help_order() -> list[Command]:
    """The commands in registry order, /exit last (commands of other modules register after it)."""
    return sorted(COMMANDS, key=lambda c: c.name == "/exit")


def help_text(columns: int = 100) -> str:
    """The /help listing, wrapped to the terminal's columns (descriptions under their own column)."""
    from chatcli.ui.cells import wrap

    width = max(22, *(len(c.usage()) + 2 for c in COMMANDS))
    room = max(20, columns - 1 - width)
    lines = []
    for c in in_help_order():
        first, *more = wrap(c.help, room)
        lines += [f"{c.usage():<{width}}{first}", *(" " * width + line for line in more)]
    return "\n".join([*lines, *(line for text in KEYS_HELP for line in wrap(text, max(20, columns - 1)))])


def dispatch(repl: Repl, text: str) -> bool:
    """Run a slash command line; True means leave."""
    name, _, arg = text.partition(" ")
    found = find(name)
    if found is None:
        close = [c for c in names() if c.startswith(name[:3])]
        hint = f" (did you mean {close[0]}?)" if close else ""
        repl.error(f"unknown command {name}{hint}; /help lists them, // sends text starting with /")
        return False
    return bool(found.handler(repl, arg.strip()))


def _on_off(repl: Repl) -> list[str]:
    return ["on", "off"]


def _providers(repl: Repl) -> list[str]:
    return list(repl.session.cfg.providers)


def _models(repl: Repl) -> list[str]:
    pcfg = repl.session.provider_config
    return list(dict.fromkeys([pcfg.model, *pcfg.models]))


def _saved(repl: Repl) -> list[Choice]:
    """Recent conversation ids, each with its title beside it."""
    try:
        return [(r.id, visible(r.title)) for r in repl.session.store.list(RECENT)]
    except ChatError:
        return []


def plural(n: int, word: str) -> str:
    """`1 request`, `2 requests`, `1,234 characters`."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# --- the commands, in /help order ---------------------------------------------------------

@command("/help", "this list")
def _help(repl: Repl, _: str) -> None:
    repl.say(help_text(repl.term.width()))


@command("/provider", "switch provider (the conversation carries over)", "NAME", choices=_providers)
def _provider(repl: Repl, arg: str) -> None:
    s = repl.session
    if not arg:
        return repl.say(f"provider: {visible(s.provider_name)} ({', '.join(map(visible, s.cfg.providers))})")
    try:
        s.switch_provider(arg)
    except ChatError as e:
        return repl.error(e.message)
    repl.say(f"provider {visible(s.provider_name)}, model {visible(s.model)}; the conversation carries over")


@command("/model", "switch model", "NAME", choices=_models)
def _model(repl: Repl, arg: str) -> None:
    if not arg:
        return repl.say(f"model: {visible(repl.session.model)}")
    repl.session.switch_model(arg)
    repl.say(f"model {visible(arg)}")


@command("/system", "show or set the system prompt", "[TEXT]")
def _system(repl: Repl, arg: str) -> None:
    if not arg:
        return repl.say(f"system prompt: {repl.session.system or '(none)'}")
    repl.session.system = arg
    repl.say("system prompt set")


@command("/clear", "start a new conversation")
def _clear(repl: Repl, _: str) -> None:
    repl.session.clear()
    repl.say("new conversation")


@command("/history", "show this conversation")
def _history(repl: Repl, _: str) -> None:
    transcript.show(repl, repl.session.conversation.messages)


@command("/copy", "copy a code block of the last answer to the clipboard (default: the last; all: the answer)",
         "[N|all]", choices=lambda repl: ["all"])
def _copy(repl: Repl, arg: str) -> None:
    from chatcli.ui.codeblocks import code_blocks

    answer = transcript.answer_text(repl.session.conversation.messages)
    if not answer.strip():
        return repl.error("nothing to copy yet")
    blocks = code_blocks(answer)
    if arg.lower() == "all" or (not arg and not blocks):
        return _to_clipboard(repl, answer, f"the answer ({plural(len(answer), 'character')})")
    if arg and not (arg.isascii() and arg.isdigit()):
        return repl.error("usage: /copy [N|all] (N counts the last answer's code blocks from 1)")
    n = int(arg) if arg else len(blocks)
    if not 1 <= n <= len(blocks):
        return repl.error(f"no code block {n} (the last answer has {len(blocks) or 'none'})")
    code = blocks[n - 1].removesuffix("\n")
    _to_clipboard(repl, code, f"code block {n} of {len(blocks)} ({plural(len(code.splitlines()), 'line')})")


def _to_clipboard(repl: Repl, text: str, what: str) -> None:
    from chatcli.repl import clipboard

    done = clipboard.copy(text, repl.term)
    if not done.reached:
        why = "; ".join(done.problems) or ("stdout is not a terminal (for OSC 52) and no clipboard tool "
                                           "(wl-copy, xclip, xsel, pbcopy, clip.exe) was found")
        return repl.error(f"could not copy {what}: {why}")
    repl.say(f"copied {what}")
    for problem in done.problems:
        repl.say(f"  {problem}")


@command("/edit", "write the next message in $VISUAL or $EDITOR (with TEXT to start from), then send it", "[TEXT]")
def _edit(repl: Repl, arg: str) -> None:
    from chatcli.repl.editor import EditorError, edit

    try:
        text = edit(arg, repl.term.environ)
    except EditorError as e:
        return repl.error(f"{e.message} — nothing sent")
    if not text:
        return repl.say("nothing sent")
    repl.send(text)


@command("/retry", "regenerate the last answer")
def _retry(repl: Repl, _: str) -> None:
    try:
        events = repl.session.retry()
    except ChatError as e:
        return repl.error(e.message)
    repl.answer(lambda: events)


@command("/undo", "drop the last turn")
def _undo(repl: Repl, _: str) -> None:
    text = repl.session.undo()
    repl.say("nothing to undo" if text is None else f"dropped the last turn: {_short(text)}")


def _switch(repl: Repl, name: str, what: str, arg: str, apply: Callable[[bool], None]) -> None:
    """An on|off command; apply raises ChatError if the provider refuses the setting."""
    on = {"on": True, "off": False}.get(arg.lower())
    if on is None:
        return repl.error(f"usage: {name} on|off")
    try:
        apply(on)
    except ChatError as e:
        return repl.error(e.message)
    repl.say(f"{what} {'on' if on else 'off'}")


@command("/tools", "show the tools; offer them (or one MCP server's) or not", "[on|off [SERVER]]", choices=_on_off)
def _tools(repl: Repl, arg: str) -> None:
    from chatcli.repl.toolcmd import tools_command

    tools_command(repl, arg)


@command("/think", "ask the model to reason first, or not", "on|off", choices=_on_off)
def _think(repl: Repl, arg: str) -> None:
    _switch(repl, "/think", "thinking", arg, lambda on: repl.session.set_flag("think", on))


@command("/search", "let the model search the web (DashScope, Zhipu), or not", "on|off", choices=_on_off)
def _search(repl: Repl, arg: str) -> None:
    _switch(repl, "/search", "web search", arg, lambda on: repl.session.set_flag("search", on))


def _attach(repl: Repl, kind: str, arg: str) -> None:
    """/image, /video, /file: check the path now, send it with the next message."""
    if not arg:
        return repl.say(attachments.listing(repl.attached))
    value = attachments.path_argument(arg)
    try:
        if kind == "video":
            found = attachments.video(value)
        else:
            found = [attachments.image(value) if kind == "image" else attachments.document(value)]
    except ChatError as e:
        return repl.error(e.message)
    repl.attached += found
    problem = repl.session.image_problem() if kind == "image" else None
    if problem:
        repl.term.notice(f"{problem} (attached anyway)")
    what = found[0].label() if kind != "video" else f"{len(found)} video frame{'s' if len(found) > 1 else ''}"
    more = f" ({len(repl.attached)} attachments now)" if len(repl.attached) > len(found) else ""
    repl.say(f"attached {what} to the next message{more}")


@command("/image", "attach an image to the next message (no argument: list what is attached)", "PATH|URL",
         paths=True)
def _image(repl: Repl, arg: str) -> None:
    _attach(repl, "image", arg)


@command("/video", "add frames of one video to the next message: images, or a directory of them", "FRAME|DIR",
         paths=True)
def _video(repl: Repl, arg: str) -> None:
    _attach(repl, "video", arg)


@command("/file", "attach a text file or a document (pdf, docx, ...) to the next message", "PATH", paths=True)
def _file(repl: Repl, arg: str) -> None:
    _attach(repl, "file", arg)


@command("/detach", "drop what is attached and not sent yet")
def _detach(repl: Repl, _: str) -> None:
    n, repl.attached = len(repl.attached), []
    repl.say(f"dropped {n} attachment{'s' if n != 1 else ''}" if n else "nothing was attached")


@command("/usage", "tokens and cost of this conversation and of the whole session")
def _usage(repl: Repl, _: str) -> None:
    s = repl.session
    prices = s.cfg.prices
    repl.say(f"this conversation: {_tally(s.tally, prices)}\nthis session: {_tally(s.session_tally, prices)}")


def _tally(t: Tally, prices: dict) -> str:
    u = t.usage
    line = (f"{plural(t.requests, 'request')}, {u.prompt_tokens:,} in, {u.completion_tokens:,} out, "
            f"{u.total_tokens:,} total")
    if u.cached_tokens:
        line += f", {u.cached_tokens:,} cached"
    if u.reasoning_tokens:
        line += f", {u.reasoning_tokens:,} reasoning"
    return line + (f" · cost {money(t.cost, prices)}" if t.cost is not None else "")


@command("/sessions", "recent saved conversations")
def _sessions(repl: Repl, _: str) -> None:
    s = repl.session
    try:
        rows = s.store.list(RECENT)
    except ChatError as e:
        return repl.error(e.message)
    lines = [f"{'*' if r.id == s.conversation_id else ' '} {r.id}  {stamp(r.updated)}  {r.message_count:>3} msgs  "
             f"{r.title}" for r in rows]
    repl.say("\n".join(lines) + "\n/load ID continues one" if lines else "no saved conversations yet")


@command("/load", "continue a saved conversation (an id prefix is enough; Tab offers recent ones)", "ID",
         choices=_saved)
def _load(repl: Repl, arg: str) -> None:
    if not arg:
        return repl.error("usage: /load ID (see /sessions)")
    try:
        repl.resumed(repl.session.resume(arg))
    except ChatError as e:
        repl.error(e.message)


@command("/rename", "give this conversation a title", "TITLE")
def _rename(repl: Repl, arg: str) -> None:
    if not arg:
        return repl.error("usage: /rename TITLE")
    try:
        title = repl.session.rename(arg)
    except ChatError as e:
        return repl.error(e.message)
    repl.say(f"renamed {repl.session.conversation_id} to “{title}”")


@command("/export", "write this conversation as markdown to PATH (default: ./chat-ID.md)", "[PATH]", paths=True)
def _export(repl: Repl, arg: str) -> None:
    import os
    from pathlib import Path

    s = repl.session
    try:
        text = strip_controls(s.export_markdown())
    except ChatError as e:
        return repl.error(e.message)
    name = f"chat-{s.conversation_id}.md"
    path = Path(os.path.expanduser(attachments.path_argument(arg))) if arg else Path(name)
    if path.is_dir():
        path = path / name
    try:
        with open(path, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        return repl.error(f"{path} exists; not overwritten (/export PATH writes elsewhere)")
    except OSError as e:
        return repl.error(f"cannot write {path}: {e.strerror or e}")
    repl.say(f"exported this conversation to {path}")


@command("/exit", "leave (also Ctrl-D, or Ctrl-C twice on an empty line)", aliases=("/quit",))
def _exit(repl: Repl, _: str) -> bool:
    return True


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
