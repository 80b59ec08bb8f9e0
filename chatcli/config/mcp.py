"""[mcp]: the MCP servers whose tools the model may call, checked like the other tables (file:line errors).

`[mcp.servers.NAME]` is a stdio server (command, args, env) or a streamable-HTTP one (url, headers);
`mcp.import = PATH` reads a Claude-Desktop-style `{"mcpServers": {...}}` JSON file as well (the
TOML's own servers win on a name clash). `${VAR}` in env and headers is expanded when a server starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatcli.config.lines import dotted
from chatcli.errors import ConfigError

Fail = Callable[[tuple[str, ...], str], ConfigError]
APPROVE = ("ask", "always", "never")
NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server: how to reach it, which of its tools to offer, and whether a call needs consent."""

    name: str
    command: str | None = None  # a stdio server: the program (found on PATH) and its arguments
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # all it gets, with PATH, HOME and LANG
    url: str | None = None  # a streamable-HTTP server
    headers: dict[str, str] = field(default_factory=dict)
    allow: list[str] | None = None  # globs of tool names to offer (None: all)
    deny: list[str] = field(default_factory=list)  # globs never offered; deny wins over allow
    approve: str = "ask"  # ask before each call | always run | never run (refuse every call)
    timeout: float = 30.0  # seconds per call
    enabled: bool = True


@dataclass(frozen=True)
class McpConfig:
    """[mcp]: the servers by name."""

    servers: dict[str, McpServerConfig] = field(default_factory=dict)

    def enabled(self) -> list[McpServerConfig]:
        """The servers to start."""
        return [s for s in self.servers.values() if s.enabled]


def expand(text: str, environ: dict[str, str]) -> str:
    """${VAR} replaced from the environment; ConfigError naming a variable that is not set."""
    def one(m: re.Match[str]) -> str:
        if m.group(1) not in environ:
            raise ConfigError(f"${{{m.group(1)}}} is not set")
        return environ[m.group(1)]
    return _VAR.sub(one, text)


def _is(ok: Callable[[Any], bool], problem: str) -> Callable[[Any], str | None]:
    return lambda v: None if ok(v) else problem


_nonempty = _is(lambda v: isinstance(v, str) and bool(v.strip()), "must be a non-empty string")
_str_list = _is(lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "must be a list of strings")
_str_table = _is(lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                 "must be a table of strings")
SERVER_KEYS: dict[str, Callable[[Any], str | None]] = {
    "command": _nonempty, "args": _str_list, "env": _str_table,
    "url": _is(lambda v: isinstance(v, str) and v.startswith(("http://", "https://")),
               "must be an http:// or https:// URL"),
    "headers": _str_table, "allow": _str_list, "deny": _str_list,
    "approve": _is(lambda v: v in APPROVE, f"must be one of: {', '.join(APPROVE)}"),
    "timeout": _is(lambda v: type(v) in (int, float) and v > 0, "must be a number > 0"),
    "enabled": _is(lambda v: isinstance(v, bool), "must be true or false"),
}
MCP_KEYS = ("servers", "import")


def mcp_config(table: Any, config_file: Path, fail: Fail) -> McpConfig:
    """Validate [mcp] (and the file mcp.import names) into an McpConfig."""
    if not isinstance(table, dict):
        raise fail(("mcp",), "mcp must be a table")
    for key in table:
        if key not in MCP_KEYS:
            raise fail(("mcp", key), f"unknown key {key!r} in [mcp] (known: {', '.join(MCP_KEYS)})")
    servers: dict[str, McpServerConfig] = {}
    if "import" in table:
        servers.update(_imported(table["import"], config_file, fail))
    file_servers = table.get("servers", {})
    if not isinstance(file_servers, dict):
        raise fail(("mcp", "servers"), "mcp.servers must be a table")
    for name, server in file_servers.items():
        servers[name] = _server(name, server, ("mcp", "servers", name), fail)
    return McpConfig(servers)


def _server(name: str, table: Any, where: tuple[str, ...], fail: Fail) -> McpServerConfig:
    if not isinstance(table, dict):
        raise fail(where, f"{dotted(where)} must be a table")
    if not NAME.fullmatch(name):
        raise fail(where, f"[{dotted(where)}]: a server name is 1 to 32 letters, digits, _ or -")
    for key, value in table.items():
        if key not in SERVER_KEYS:
            raise fail((*where, key), f"unknown key {key!r} in [{dotted(where)}]")
        problem = SERVER_KEYS[key](value)
        if problem:
            raise fail((*where, key), f"{dotted((*where, key))} {problem}")
    if ("command" in table) == ("url" in table):
        raise fail(where, f"[{dotted(where)}] needs either command (a stdio server) or url (HTTP), not both")
    values = dict(table)
    if "timeout" in values:
        values["timeout"] = float(values["timeout"])
    return McpServerConfig(name=name, **values)


def _imported(value: Any, config_file: Path, fail: Fail) -> dict[str, McpServerConfig]:
    """The servers of a Claude-Desktop `mcpServers` JSON file (relative paths: from the config file)."""
    where = ("mcp", "import")
    if not isinstance(value, str) or not value.strip():
        raise fail(where, "mcp.import must be the path of a JSON file")
    path = config_file.parent / Path(value).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise fail(where, f"mcp.import: cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise fail(where, f"mcp.import: {path} is not JSON: {e}") from None
    found = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise fail(where, f"mcp.import: {path} has no \"mcpServers\" object")
    servers = {}
    for name, entry in found.items():
        known = {k: v for k, v in entry.items() if k in SERVER_KEYS} if isinstance(entry, dict) else entry
        try:
            servers[name] = _server(name, known, ("mcpServers", name), _json_fail(path))
        except ConfigError as e:
            raise fail(where, f"mcp.import: {e.message}") from None
    return servers


def _json_fail(path: Path) -> Fail:
    return lambda keypath, msg: ConfigError(f"{path}: {msg}")
