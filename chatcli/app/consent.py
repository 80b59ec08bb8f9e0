"""Whether a tool call may run: built-ins always; an MCP tool as its server's `approve` says.

approve = "always" runs every call and "never" refuses every one; "ask" (the default) asks the
person at the terminal before each call: yes, always this session, no, or no with a reason for the
model. Without anyone to ask (no terminal) a call is refused unless `--approve GLOB` names the tool
or `--yes` is given. A refusal is the call's result, so the model hears of it and the answer goes on.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatcli.core.messages import ToolCall
    from chatcli.tools.registry import Tool

# An asker shows the call and returns ("y" | "a" | "n" | "t", the reason given with "t").
Asker = Callable[["Tool", "ToolCall"], "tuple[str, str]"]
SHOWN_ARGUMENTS = 200  # characters of a call's arguments shown in the question


@dataclass
class Consent:
    """The session's answers so far and what the command line allowed."""

    approve: dict[str, str] = field(default_factory=dict)  # server -> ask | always | never
    globs: Sequence[str] = ()  # --approve: tool names (as offered, or server/tool) that need no asking
    yes: bool = False  # --yes: every "ask" call runs
    asker: Asker | None = None  # None: nobody to ask
    always: set[str] = field(default_factory=set)  # tools answered "always" in this session

    def check(self, tool: Tool, call: ToolCall) -> str | None:
        """None if the call may run, else the refusal the model is sent."""
        if tool.server is None:
            return None
        mode = self.approve.get(tool.server, "ask")
        if mode == "never":
            return f"refused: tools of the MCP server {tool.server!r} are set never to run (approve = \"never\")"
        if mode == "always" or self.yes or tool.name in self.always or self._approved(tool):
            return None
        if self.asker is None:
            return ("refused: this tool needs the user's approval and there was nobody to ask (no terminal); "
                    "they can allow it with --approve or --yes")
        answer, why = self.asker(tool, call)
        if answer == "a":
            self.always.add(tool.name)
        if answer in ("y", "a"):
            return None
        if answer == "t" and why.strip():
            return f"the user refused this call: {why.strip()}"
        return "the user refused this call"

    def _approved(self, tool: Tool) -> bool:
        names = [tool.name, f"{tool.server}/{tool.remote_name}"]
        return any(fnmatch.fnmatchcase(name, glob) for glob in self.globs for name in names)


def shown_arguments(raw: str, limit: int = SHOWN_ARGUMENTS) -> str:
    """A call's arguments on one line, cut to limit characters."""
    try:
        text = json.dumps(json.loads(raw), ensure_ascii=False) if raw.strip() else "{}"
    except ValueError:
        text = raw
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
