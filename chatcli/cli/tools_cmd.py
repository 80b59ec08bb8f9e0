"""`chat tools`: the tools the model may call, as plain text."""

from __future__ import annotations

import sys

from chatcli.config import load_config
from chatcli.tools.builtins import builtin_tools


def print_tools(config: str | None = None) -> None:
    """Print each tool with its parameters, and whether tools are enabled."""
    cfg = load_config(config)
    out = sys.stdout
    for tool in builtin_tools(cfg.tools):
        out.write(f"{tool.name}\n    {tool.description}\n")
        required = tool.parameters["required"]
        for name, prop in tool.parameters["properties"].items():
            kind = " | ".join(prop["enum"]) if "enum" in prop else prop["type"]
            need = "required" if name in required else "optional"
            default = f", default {prop['default']}" if "default" in prop else ""
            out.write(f"    {name}: {kind} ({need}{default}) — {prop.get('description', '')}\n")
    t = cfg.tools
    state = "enabled" if t.enabled else "disabled ([tools] enabled = false)"
    out.write(f"\ntools {state}; at most {t.max_rounds} rounds a turn, {t.timeout:g} s a call\n")
