"""The prompt's own key bindings, as a function of the REPL they act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

if TYPE_CHECKING:
    from chatcli.repl.loop import Repl


def bindings(repl: Repl) -> KeyBindings:
    """Esc-Enter adds a line; Ctrl-X Ctrl-E edits it in $VISUAL or $EDITOR; Ctrl-C clears, arms, leaves."""
    kb = KeyBindings()

    @kb.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @kb.add("c-x", "c-e")
    def _edit(event: KeyPressEvent) -> None:
        """The line in $VISUAL or $EDITOR; back in the prompt to send with Enter."""
        event.current_buffer.open_in_editor(validate_and_handle=False)

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

