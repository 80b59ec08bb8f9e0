"""A small stdio MCP server for the tests (FastMCP): echo, slow, failing, crashing, a long name, an odd schema.

Run as `python tests/mcp_server.py [--fail-start] [--pidfile PATH] [--http PORT]` (--http: streamable HTTP
on 127.0.0.1:PORT/mcp, needing the header `Authorization: Bearer test-token`).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

if "--fail-start" in sys.argv:
    sys.stderr.write("cannot start: no database\n")
    sys.exit(3)

from mcp.server.fastmcp import FastMCP  # noqa: E402
from mcp.types import ImageContent, TextContent  # noqa: E402

if "--pidfile" in sys.argv:
    with open(sys.argv[sys.argv.index("--pidfile") + 1], "a") as f:
        f.write(f"{os.getpid()}\n")

HTTP_PORT = int(sys.argv[sys.argv.index("--http") + 1]) if "--http" in sys.argv else 0
server = FastMCP("test", host="127.0.0.1", port=HTTP_PORT or 8000, log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
def env_names() -> str:
    """The names of the environment variables this server has."""
    return " ".join(sorted(os.environ))


@server.tool()
def slow(seconds: float = 5.0) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return "done"


@server.tool()
def failing() -> str:
    """Always fails."""
    raise RuntimeError("it broke")


@server.tool()
def crash() -> str:
    """The server dies mid-call."""
    os._exit(1)


@server.tool()
def big() -> str:
    """An answer of 100 KB."""
    return "x" * 100_000


@server.tool()
def picture() -> list[Any]:
    """Some text and an image."""
    return [TextContent(type="text", text="a dot"), ImageContent(type="image", data="aGVsbG8=", mimeType="image/png")]


@server.tool(name="a_tool_with_a_really_very_extremely_long_name_that_goes_on.and.on")
def long_named() -> str:
    """A tool whose name no provider takes."""
    return "long"


@server.tool(name="odd")
def odd(when: str) -> str:
    """A tool with an odd schema."""
    return when


# The odd tool's schema as a real server might send it: $schema, format, nested additionalProperties, $defs.
_tool = server._tool_manager._tools["odd"]
_tool.parameters = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"when": {"type": "string", "format": "date-time", "description": "a time"},
                   "opts": {"type": "object", "additionalProperties": {"type": "string"}, "default": {}}},
    "required": ["when"],
    "additionalProperties": False,
}



def _checked(app):  # type: ignore[no-untyped-def]
    """The ASGI app, refusing requests without the expected bearer token."""
    async def guarded(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and (b"authorization", b"Bearer test-token") not in scope["headers"]:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"no token"})
            return
        await app(scope, receive, send)
    return guarded


if __name__ == "__main__":
    if HTTP_PORT:
        import uvicorn

        uvicorn.run(_checked(server.streamable_http_app()), host="127.0.0.1", port=HTTP_PORT, log_level="warning")
    else:
        server.run("stdio")
