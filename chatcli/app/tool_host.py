"""The session's tools: the built-ins, and those of the configured MCP servers behind the user's consent.

The MCP servers start on the first turn that offers tools (chatcli.tools.mcp_client, the only
module that imports the `mcp` SDK) and stop when the session closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chatcli.app.consent import Consent
from chatcli.tools.mcp_names import schema_tokens

MAX_TOOLS = 128  # tools in one request: OpenAI's limit, and more than any model uses well

if TYPE_CHECKING:
    from chatcli.config import Config
    from chatcli.tools.mcp_client import McpHub, ServerStatus
    from chatcli.tools.registry import ToolRegistry


class ToolHost:
    """What the model may call in one session, and the MCP servers that serve some of it."""

    def __init__(self, cfg: Config, notify: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.notify = notify
        self.consent = Consent(approve={s.name: s.approve for s in cfg.mcp.servers.values()})
        self.off: set[str] = set()  # servers turned off with /tools off NAME
        self._hub: McpHub | None = None
        self._told_too_many = False
        self.schema_tokens = 0  # what the MCP tools offered last cost in every request (left out of the budget)

    def registry(self, model: str, wanted: bool | None) -> ToolRegistry | None:
        """The tools to offer with this model (starting the MCP servers the first time), or None."""
        from chatcli.tools.builtins import tools_for

        registry = tools_for(self.cfg.tools, model, wanted)
        self.schema_tokens = 0
        if registry is None or not self.cfg.mcp.enabled():
            return registry
        hub = self.hub()
        hub.start()
        offered = hub.tools(set(registry.tools), self.off)
        room = MAX_TOOLS - len(registry.tools)
        if len(offered) > room and not self._told_too_many:
            self._told_too_many = True
            self.notify(f"the MCP servers offer {len(offered)} tools; only the first {room} are offered "
                        f"(providers take at most {MAX_TOOLS}): narrow them with allow/deny")
        for tool in offered[:room]:
            registry.tools[tool.name] = tool
            self.schema_tokens += schema_tokens(tool.schema()["function"])
        registry.gate = self.consent.check
        return registry

    def hub(self) -> McpHub:
        """The MCP servers (not started until a turn or a listing needs them)."""
        if self._hub is None:
            from chatcli.tools.mcp_client import McpHub

            self._hub = McpHub(list(self.cfg.mcp.servers.values()), self.notify)
        return self._hub

    def statuses(self, start: bool = True) -> list[ServerStatus]:
        """Each configured server's status, starting them first if asked."""
        if not self.cfg.mcp.servers:
            return []
        hub = self.hub()
        if start:
            hub.start()
        return hub.statuses()

    def toggle(self, server: str, on: bool) -> None:
        """Offer one server's tools, or not, for the rest of the session (KeyError if unknown)."""
        if server not in self.cfg.mcp.servers:
            raise KeyError(server)
        (self.off.discard if on else self.off.add)(server)

    def close(self) -> None:
        """Stop the MCP servers, if any started."""
        if self._hub is not None:
            self._hub.close()
