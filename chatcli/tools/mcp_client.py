"""MCP servers as tools: the one module that uses the `mcp` SDK (1.19.x), so a move to 2.x stays here.

The SDK is async (anyio); `McpHub` runs it on one event loop in a daemon thread of its own and
gives the rest of the program blocking calls. Each server is a task on that loop holding its
transport and ClientSession open until it is stopped; calls from the tool threads go to it with
`run_coroutine_threadsafe`. A call that fails for the connection (a timeout, the server gone)
marks the server broken: the next call starts it again.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any, TextIO, cast

from chatcli.config import secrets
from chatcli.config.mcp import McpServerConfig, expand
from chatcli.errors import ChatError
from chatcli.tools.mcp_names import allowed, clean_schema, result_text, wire_name
from chatcli.tools.registry import Tool

START_TIMEOUT = 30.0  # seconds for a server to start and list its tools
GRACE = 5.0  # seconds the tool loop waits beyond a server's timeout, to hear the server's own error
STOP_TIMEOUT = 5.0
DESCRIPTION_MAX = 1024  # characters of a tool's description (OpenAI's limit; the rest costs tokens anyway)
PASSED_ENV = ("PATH", "HOME", "LANG")  # all a stdio server gets from our environment, with its own env
_KEEP = "CHATCLI_MCP_KEEP"
# The SDK adds its default environment (SHELL, TERM, USER, ...) to the one given: this trampoline
# execs the server with only the variables named in CHATCLI_MCP_KEEP (the same process, not a child).
_EXEC = ("import os,sys\n"
         f"keep=os.environ.pop({_KEEP!r}).split(',')\n"
         "env={k:os.environ[k] for k in keep if k in os.environ}\n"
         "try:\n os.execvpe(sys.argv[1],sys.argv[1:],env)\n"
         "except OSError as e:\n sys.stderr.write(f'cannot run {sys.argv[1]}: {e.strerror}\\n'); sys.exit(127)\n")


@dataclass
class RemoteTool:
    """One tool a server offers: its real name, description and cleaned schema."""

    name: str
    description: str
    schema: dict[str, Any]


@dataclass
class ServerStatus:
    """How one server is doing: connected, failed (with the reason), disabled or not started."""

    config: McpServerConfig
    state: str = "not started"
    reason: str = ""
    tools: list[RemoteTool] = field(default_factory=list)
    hidden: int = 0  # tools left out by allow/deny


class _Server:
    """One server's connection, living on the hub's loop."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.status = ServerStatus(config, "not started" if config.enabled else "disabled")
        self.session: Any = None
        self.broken = False
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._errlog: IO[str] | None = None
        self._restarting: asyncio.Lock | None = None  # made on the loop: one restart for calls that race

    async def start(self) -> None:
        """Connect and list the tools; the status says how it went (never raises)."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.ensure_future(self._run(ready))
        try:
            await asyncio.wait_for(asyncio.shield(ready), START_TIMEOUT)
        except BaseException as e:  # noqa: BLE001 (whatever the SDK or the server raised: a reason to show)
            self.status.state, self.status.reason = "failed", self._reason(e)
            await self.stop()
            return
        self.broken = False
        self.status.state, self.status.reason = "connected", ""

    async def _run(self, ready: asyncio.Future[None]) -> None:
        from mcp import ClientSession

        try:
            async with contextlib.AsyncExitStack() as stack:
                streams = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
                await session.initialize()
                listed = await _list_tools(session)
                self._offer(listed)
                self.session = session
                ready.set_result(None)
                assert self._stop is not None
                await self._stop.wait()
        except BaseException as e:  # noqa: BLE001
            if not ready.done():
                ready.set_exception(e)
        finally:
            self.session = None

    def _transport(self) -> Any:
        config = self.config
        if config.url:
            from mcp.client.streamable_http import streamablehttp_client

            headers = {k: expand(v, dict(os.environ)) for k, v in config.headers.items()}
            for name, value in headers.items():  # a token from ${VAR} is hidden wherever it would show
                if value != config.headers[name]:
                    secrets.remember(value.split()[-1] if value.split() else value)
            return streamablehttp_client(config.url, headers=headers, timeout=config.timeout)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        env = {k: expand(v, dict(os.environ)) for k, v in config.env.items()}
        env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ and k not in env})
        env[_KEEP] = ",".join(env)
        if self._errlog is None:
            self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        if os.name == "posix":  # exec replaces the process; on Windows it would not (the SDK's defaults pass too)
            params = StdioServerParameters(command=sys.executable, env=env,
                                           args=["-c", _EXEC, config.command or "", *config.args])
        else:  # pragma: no cover
            params = StdioServerParameters(command=config.command or "", args=config.args, env=env)
        return stdio_client(params, errlog=cast(TextIO, self._errlog))

    def _offer(self, listed: list[Any]) -> None:
        tools, hidden = [], 0
        for tool in listed:
            if allowed(tool.name, self.config.allow, self.config.deny):
                described = " ".join((tool.description or "").split())[:DESCRIPTION_MAX]
                tools.append(RemoteTool(tool.name, described, clean_schema(tool.inputSchema)))
            else:
                hidden += 1
        self.status.tools, self.status.hidden = tools, hidden

    def _reason(self, e: BaseException) -> str:
        if isinstance(e, asyncio.TimeoutError):
            text = f"no answer within {START_TIMEOUT:g} s"
        elif isinstance(e, ChatError):
            text = e.message
        else:
            text = str(e) or type(e).__name__
            while getattr(e, "exceptions", None):  # anyio's task groups wrap the cause in a group
                e = e.exceptions[0]  # type: ignore[attr-defined]
                text = str(e) or type(e).__name__
        said = self._stderr_tail()
        return f"{text} ({said})" if said else text

    def _stderr_tail(self) -> str:
        if self._errlog is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._errlog.seek(0)
            lines = [line.strip() for line in self._errlog.read()[-4000:].splitlines() if line.strip()]
            self._errlog.seek(0, os.SEEK_END)
            return lines[-1][:200] if lines else ""
        return ""

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        self._restarting = self._restarting or asyncio.Lock()
        async with self._restarting:
            if self.broken or self.session is None:
                await self.stop()
                await self.start()
        if self.session is None:
            raise ChatError(f"server {self.config.name} is not running: {self.status.reason}")
        try:
            return await self.session.call_tool(name, arguments,
                                                read_timeout_seconds=timedelta(seconds=self.config.timeout))
        except BaseException as e:
            if _connection_lost(e):  # timed out or gone: stopped now, started again for the next call
                self.broken = True
                asyncio.ensure_future(self.stop())
            raise

    async def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, STOP_TIMEOUT)


def _connection_lost(e: BaseException) -> bool:
    """Whether a failed call means the server is stuck or gone, not that it answered with an error."""
    from mcp.shared.exceptions import McpError
    from mcp.types import CONNECTION_CLOSED

    if not isinstance(e, McpError):
        return True
    return e.error.code in (CONNECTION_CLOSED, 408)  # 408: the SDK's own read timeout


async def _list_tools(session: Any) -> list[Any]:
    tools, cursor = [], None
    while True:
        page = await session.list_tools(cursor)
        tools += page.tools
        cursor = page.nextCursor
        if not cursor:
            return tools


class McpHub:
    """The configured servers and the event loop they run on; blocking methods for the tool loop."""

    def __init__(self, servers: list[McpServerConfig], notify: Callable[[str], None]) -> None:
        self.servers = {s.name: _Server(s) for s in servers}
        self.notify = notify
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._lock = threading.Lock()

    def _run(self, coro: Any, timeout: float | None = None) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="mcp", daemon=True)
            self._thread.start()
            atexit.register(self.close)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> None:
        """Start every enabled server at once (the first time only); one warning for each that fails."""
        with self._lock:
            if self._started:
                return
            self._started = True
            wanted = [s for s in self.servers.values() if s.config.enabled]
            if not wanted:
                return
            self._run(_gather([s.start() for s in wanted]))
        for server in wanted:
            if server.status.state == "failed":
                self.notify(f"MCP server {server.config.name} is not available: {server.status.reason}")

    def statuses(self) -> list[ServerStatus]:
        return [s.status for s in self.servers.values()]

    def tools(self, taken: set[str], off: frozenset[str] | set[str] = frozenset()) -> list[Tool]:
        """Tools of the connected servers (not those turned off), named so no two clash."""
        made: list[Tool] = []
        for server in self.servers.values():
            if server.status.state != "connected" or server.config.name in off:
                continue
            for remote in server.status.tools:
                name = wire_name(server.config.name, remote.name, taken)
                taken.add(name)
                made.append(Tool(name, remote.description or remote.name, remote.schema,
                                 self._caller(server, remote.name), server=server.config.name,
                                 remote_name=remote.name, timeout=server.config.timeout + GRACE))
        return made

    def _caller(self, server: _Server, name: str) -> Callable[..., Any]:
        def call(**arguments: Any) -> Any:
            try:
                result = self._run(server.call(name, arguments), server.config.timeout + STOP_TIMEOUT + START_TIMEOUT)
            except BaseException as e:  # noqa: BLE001 (a failed call is the model's to hear about)
                return {"error": _call_error(server.config, name, e)}
            text = _result_text(result)
            return {"error": text} if result.isError else text
        return call

    def close(self) -> None:
        """Stop every server (no process left behind) and the loop."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        with contextlib.suppress(BaseException):
            asyncio.run_coroutine_threadsafe(_gather([s.stop() for s in self.servers.values()]), loop).result(
                STOP_TIMEOUT + 2)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            if not self._thread.is_alive():
                loop.close()
        for server in self.servers.values():
            if server._errlog is not None:
                with contextlib.suppress(OSError):
                    server._errlog.close()


async def _gather(coros: list[Any]) -> None:
    await asyncio.gather(*coros, return_exceptions=True)


def _call_error(config: McpServerConfig, name: str, e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if "timed out" in text.lower() or isinstance(e, TimeoutError):
        return f"{config.name}/{name} timed out after {config.timeout:g} s"
    return f"{config.name}/{name} failed: {text}"


def _result_text(result: Any) -> str:
    """A CallToolResult as text: text joined, structured content as JSON, images and other blocks noted."""
    texts, notes = [], []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            texts.append(block.text)
        elif kind in ("image", "audio"):
            size = len(base64.b64decode(block.data, validate=False)) if block.data else 0
            notes.append(f"[{kind}: {block.mimeType}, {size:,} bytes, not shown]")
        elif kind == "resource_link":
            notes.append(f"[resource: {block.uri}]")
        elif kind == "resource":
            text = getattr(block.resource, "text", None)
            if text is not None:
                texts.append(text)
            else:
                notes.append(f"[resource: {block.resource.uri}, {block.resource.mimeType or 'binary'}]")
    return result_text(texts, result.structuredContent, notes)
