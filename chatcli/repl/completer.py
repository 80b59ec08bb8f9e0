"""Tab completion for slash commands and their arguments, from the command registry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from chatcli.repl import commands

if TYPE_CHECKING:
    from chatcli.repl.loop import Repl


class SlashCompleter(Completer):
    """Completes command names, then what each command's registry entry offers (choices or paths).

    A choice with a note (a conversation id and its title) matches by its start or by any text of the note.
    """

    def __init__(self, repl: Repl) -> None:
        self.repl = repl
        self.paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        name, space, arg = text.partition(" ")
        options: list[commands.Choice]
        if not space:
            options, word = list(commands.names()), name
        else:
            found = commands.find(name)
            if found is None:
                return
            if found.paths:
                yield from self.paths.get_completions(Document(arg, len(arg)), complete_event)
                return
            options, word = list(found.choices(self.repl)) if found.choices else [], arg
        for option in options:
            value, meta = option if isinstance(option, tuple) else (option, "")
            if (value.startswith(word) and value != word) or (word and meta and word.lower() in meta.lower()):
                yield Completion(value, start_position=-len(word), display_meta=meta or None)
