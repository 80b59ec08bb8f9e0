"""/tools: show the tools and the MCP servers; /tools on|off for all of them, /tools on|off SERVER for one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.tools.listing import server_lines

if TYPE_CHECKING:
    from chatcli.repl.loop import Repl


def tools_command(repl: Repl, arg: str) -> None:
    """Handle /tools [on|off [SERVER]]."""
    words = arg.split()
    session = repl.session
    host = session.tool_host
    if not words:
        state = "on" if session.tools_on else "off"
        lines = [f"tools {state}: get_current_time, get_current_weather"]
        lines += server_lines(host.statuses(start=session.tools_on), host.off)
        return repl.say("\n".join(lines))
    on = {"on": True, "off": False}.get(words[0].lower())
    if on is None or len(words) > 2:
        return repl.error("usage: /tools [on|off [SERVER]]")
    if len(words) == 1:
        session.tools_on = on
        return repl.say(f"tools {'on' if on else 'off'}")
    try:
        host.toggle(words[1], on)
    except KeyError:
        return repl.error(f"no MCP server {words[1]!r} (known: {', '.join(session.cfg.mcp.servers) or 'none'})")
    repl.say(f"tools of {words[1]} {'on' if on else 'off'}")
