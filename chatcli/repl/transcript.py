"""A conversation shown again as it was: who said what, answers rendered as answers are (for /history, `chat -c`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from chatcli.core.messages import Message, TextDelta, content_text
from chatcli.ui.sanitize import strip_controls

if TYPE_CHECKING:
    from chatcli.ui.terminal import Terminal

BRIEF = 60  # characters of a tool result shown
YOU, ASSISTANT = ("you", "bold cyan"), ("assistant", "bold green")


def last_exchange(messages: Sequence[Message]) -> list[Message]:
    """The last user message and the answer after it (tool rounds included); empty if there is none."""
    start = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
    return [] if start is None else list(messages[start:])


def answer_text(messages: Sequence[Message]) -> str:
    """The text of the last answer, over all its model calls, as it streamed ("" if there is none)."""
    exchange = last_exchange(messages)
    return "".join(content_text(m.content) for m in exchange if m.role == "assistant")


def show(target: Any, messages: Sequence[Message]) -> None:
    """Show messages on a terminal (or a REPL's): a header per speaker, answers through the answer renderer.

    The system prompt is left out; tool calls are dim lines; answers cut short are marked; a persona's
    answers are headed with its name.
    """
    term: Terminal = getattr(target, "term", target)
    session = getattr(target, "session", None)
    hard_breaks = session.cfg.render.hard_breaks if session is not None else True
    persona = getattr(getattr(session, "role", None), "bot_name", None)
    answerer = (strip_controls(persona), ASSISTANT[1]) if persona else ASSISTANT
    shown = [m for m in messages if m.role != "system"]
    if not shown:
        term.say("(empty conversation)")
        return
    header = _header_writer(term)
    for n, (user, group) in enumerate(_groups(shown)):
        notes = [note for note, on in (("interrupted", any(m.interrupted for m in group)),
                                       ("withdrawn", any(m.withdrawn for m in group))) if on]
        header(YOU if user else answerer, notes, blank=n > 0)
        if user:
            for m in group:
                term.say(content_text(m.content, marks=True).strip(), dim=False)
        else:
            _answer(term, group, hard_breaks)


def _groups(messages: list[Message]) -> Iterator[tuple[bool, list[Message]]]:
    """(is the user, messages): each user message alone, each answer's assistant and tool messages together."""
    group: list[Message] = []
    for m in messages:
        if m.role == "user" or (group and group[0].role == "user"):
            if group:
                yield group[0].role == "user", group
            group = []
        group.append(m)
    if group:
        yield group[0].role == "user", group


def _answer(term: Terminal, group: list[Message], hard_breaks: bool = True) -> None:
    """An answer's text through the renderer answers use, its tool calls as its dim lines."""
    from chatcli.ui.render import renderer_for

    renderer = renderer_for(term, show_reasoning=False, hard_breaks=hard_breaks)
    calls = {c.id: c for m in group for c in m.tool_calls}
    try:
        for m in group:
            if m.role == "tool":
                call = calls.get(m.tool_call_id or "")
                renderer.line(tool_line(m.name or (call.name if call else "tool"),
                                        call.arguments if call else "", content_text(m.content)))
                continue
            text = content_text(m.content, marks=True)
            if text:
                renderer.handle(TextDelta(text))
            for c in m.tool_calls:
                if not any(t.tool_call_id == c.id for t in group):  # a call without a result
                    renderer.line(tool_line(c.name, c.arguments, None))
    finally:
        renderer.close()
        renderer.end_line()


def tool_line(name: str, arguments: str, result: str | None) -> str:
    """`⚙ name(key="value") → brief result` for a tool call of the history."""
    try:
        args = json.loads(arguments or "{}")
        shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    except (ValueError, AttributeError):
        shown = arguments
    line = f"⚙ {name}({shown})"
    if result is not None:
        brief = " ".join(result.split())
        line += " → " + (brief if len(brief) <= BRIEF else brief[: BRIEF - 1] + "…")
    return strip_controls(line)


def _header_writer(term: Terminal) -> Callable[..., None]:
    """A function writing one speaker's header line, styled by Rich when stdout shows colour."""
    from rich.console import Console
    from rich.text import Text

    live, color = term.is_terminal(), term.color()
    console = Console(file=term.out, force_terminal=live, color_system="auto" if color else None,
                      no_color=not color, markup=False, emoji=False, highlight=False, width=term.width())

    def header(who: tuple[str, str], notes: list[str], *, blank: bool) -> None:
        if blank:
            console.print()
        line = Text.assemble(who, (" · " + ", ".join(notes) if notes else "", "dim"))
        console.print(line, soft_wrap=True)

    return header
