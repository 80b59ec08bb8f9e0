"""`chat tools` and `chat mcp list | test NAME`: the tools the model may call, and the MCP servers, as plain text."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from chatcli.config import load_config
from chatcli.errors import UsageError
from chatcli.tools.builtins import builtin_tools
from chatcli.tools.listing import builtin_lines, server_line, server_lines

if TYPE_CHECKING:
    from chatcli.config import Config
    from chatcli.tools.mcp_client import ServerStatus


def print_tools(config: str | None = None) -> None:
    """Print each tool with its parameters, each MCP server's tools, and whether tools are enabled."""
    cfg = load_config(config)
    out = sys.stdout
    lines = builtin_lines(builtin_tools(cfg.tools))
    if cfg.mcp.servers:
        lines += ["", *server_lines(_statuses(cfg))]
    out.write("\n".join(lines) + "\n")
    t = cfg.tools
    state = "enabled" if t.enabled else "disabled ([tools] enabled = false)"
    out.write(f"\ntools {state}; at most {t.max_rounds} rounds a turn, {t.timeout:g} s a call\n")


def mcp_command(action: str, name: str | None, config: str | None = None) -> int:
    """`chat mcp list`: each server and its state; `chat mcp test NAME`: start one and list its tools."""
    cfg = load_config(config)
    if action == "list":
        if not cfg.mcp.servers:
            sys.stdout.write("no MCP servers configured ([mcp.servers.NAME] in the config file)\n")
            return 0
        for status in _statuses(cfg, start=False):
            sys.stdout.write(server_line(status) + "\n")
        return 0
    if name is None or name not in cfg.mcp.servers:
        known = ", ".join(cfg.mcp.servers) or "none"
        raise UsageError(f"chat mcp test NAME: name one of the configured servers (known: {known})")
    from dataclasses import replace

    from chatcli.config.mcp import McpConfig

    one = replace(cfg, mcp=McpConfig({name: replace(cfg.mcp.servers[name], enabled=True)}))
    statuses = _statuses(one)
    sys.stdout.write("\n".join(server_lines(statuses)) + "\n")
    return 0 if statuses[0].state == "connected" else 1


def _statuses(cfg: Config, start: bool = True) -> list[ServerStatus]:
    from chatcli.app.tool_host import ToolHost

    host = ToolHost(cfg, lambda _message: None)
    try:
        return host.statuses(start)
    finally:
        host.close()
