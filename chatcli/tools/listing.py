"""The text of a tool listing (`chat tools`, `chat mcp`, `/tools`): built-ins, then each MCP server's tools."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.tools.mcp_names import schema_tokens, wire_name

if TYPE_CHECKING:
    from chatcli.tools.mcp_client import ServerStatus
    from chatcli.tools.registry import Tool


def builtin_lines(tools: list[Tool]) -> list[str]:
    """Each built-in with its parameters."""
    lines = []
    for tool in tools:
        lines.append(f"{tool.name}\n    {tool.description}")
        required = tool.parameters["required"]
        for name, prop in tool.parameters["properties"].items():
            kind = " | ".join(prop["enum"]) if "enum" in prop else prop["type"]
            need = "required" if name in required else "optional"
            default = f", default {prop['default']}" if "default" in prop else ""
            lines.append(f"    {name}: {kind} ({need}{default}) — {prop.get('description', '')}")
    return lines


def server_line(status: ServerStatus, off: bool = False) -> str:
    """One server: name, how it is reached, its state, approval."""
    c = status.config
    where = c.url or " ".join([c.command or "", *c.args])
    state = status.state if status.state != "failed" else f"failed: {status.reason}"
    if off:
        state += ", turned off for this session"
    tools = f", {len(status.tools)} tools" if status.state == "connected" else ""
    hidden = f" ({status.hidden} left out by allow/deny)" if status.hidden else ""
    return f"{c.name}: {state}{tools}{hidden}; approve = {c.approve}; {where}"


def server_lines(statuses: list[ServerStatus], off: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Each MCP server, and under it its tools with the name the model sees and their schema's cost."""
    lines: list[str] = []
    taken: set[str] = {"get_current_time", "get_current_weather"}
    for status in statuses:
        lines.append("mcp " + server_line(status, status.config.name in off))
        for tool in status.tools:
            name = wire_name(status.config.name, tool.name, taken)
            taken.add(name)
            ask = {"ask": "asks first", "always": "runs without asking", "never": "refused"}[status.config.approve]
            cost = schema_tokens({"name": name, "description": tool.description, "parameters": tool.schema})
            lines.append(f"    {name} (~{cost} tokens, {ask}) — {tool.description[:100]}")
    return lines
