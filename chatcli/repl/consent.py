"""Asking before an MCP tool runs, in the REPL: the type-ahead reader steps aside while the question waits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.ui.consent import terminal_asker

if TYPE_CHECKING:
    from chatcli.app.consent import Asker
    from chatcli.core.messages import ToolCall
    from chatcli.repl.loop import Repl
    from chatcli.tools.registry import Tool


def repl_asker(repl: Repl) -> Asker | None:
    """The terminal's asker, pausing the REPL's key reader (else it would take the answer's keys)."""
    ask = terminal_asker(repl.term)
    if ask is None:
        return None

    def paused(tool: Tool, call: ToolCall) -> tuple[str, str]:
        reader = repl.key_reader
        if reader is not None:
            reader.stop()
        try:
            return ask(tool, call)
        finally:
            if reader is not None:
                reader.start()
    return paused
