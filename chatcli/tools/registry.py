"""The tool registry: plain typed functions whose signature and docstring become the JSON schema."""

from __future__ import annotations

import inspect
import json
import queue
import re
import threading
import time
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Union

from chatcli.core.messages import ToolCall, ToolResult

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_STEP = 0.1  # seconds between checks while tool calls run
Gate = Callable[["Tool", ToolCall], "str | None"]  # why a call may not run, or None


@dataclass
class Tool:
    """One callable tool and its JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    server: str | None = None  # the MCP server it comes from; None: a built-in
    remote_name: str | None = None  # its name on that server
    timeout: float | None = None  # its own per-call limit, if longer than [tools] timeout

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style `tools` entry."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


def tool_from_function(fn: Callable[..., Any]) -> Tool:
    """A Tool from a function: its name, docstring (first paragraph + `Args:`) and type hints."""
    doc = inspect.getdoc(fn) or ""
    description, _, args_section = doc.partition("\nArgs:\n")
    arg_docs = dict(re.findall(r"^\s+(\w+):\s*(.+)$", args_section, re.MULTILINE))
    hints = typing.get_type_hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        prop = _json_schema(hints.get(name, str))
        if name in arg_docs:
            prop["description"] = arg_docs[name].strip()
        properties[name] = prop
        if param.default is inspect.Parameter.empty:
            required.append(name)
        elif param.default is not None:
            prop["default"] = param.default
    parameters = {"type": "object", "properties": properties, "required": required}
    return Tool(fn.__name__, " ".join(description.split()), parameters, fn)


def _json_schema(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (Union, types.UnionType) and len(args) == 1:
        return _json_schema(args[0])
    if origin is Literal:
        return {"type": _JSON_TYPES[type(args[0])], "enum": list(args)}
    if origin in (list, tuple) or hint in (list, tuple):
        return {"type": "array", "items": _json_schema(args[0]) if args else {}}
    return {"type": _JSON_TYPES.get(hint, "string")}


class ToolRegistry:
    """The tools offered to the model, and running the calls it makes."""

    def __init__(self, tools: Iterable[Tool], timeout: float = 30.0, gate: Gate | None = None) -> None:
        self.tools = {t.name: t for t in tools}
        self.timeout = timeout
        self.gate = gate  # asked first, in this thread, whether each call may run (chatcli.app.consent)

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self.tools.values()]

    def run(self, call: ToolCall) -> tuple[str, bool]:
        """The JSON text result of one call and whether it succeeded; failures are results too."""
        tool = self.tools.get(call.name)
        if tool is None:
            return _error(f"unknown tool {call.name!r}; available: {', '.join(self.tools)}"), False
        try:
            args = _arguments(tool, call.arguments)
        except ValueError as e:
            return _error(str(e)), False
        try:
            result = tool.fn(**args)
        except Exception as e:  # a tool's bug must not end the turn; the model is told instead
            return _error(f"{call.name} failed: {type(e).__name__}: {e}"), False
        ok = not (isinstance(result, dict) and "error" in result)
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        return text, ok

    def run_all(self, calls: list[ToolCall]) -> Iterable[ToolResult]:
        """Run calls concurrently, each within the timeout; yield results as they finish.

        Each call has a daemon thread of its own: one still running after the timeout or a Ctrl-C is
        abandoned, and cannot hold the process at exit as an executor's worker threads would (they
        are joined at interpreter shutdown).
        """
        refused = {id(c): why for c in calls if (why := self._refusal(c)) is not None}
        for call in calls:
            if id(call) in refused:
                yield ToolResult(call, _error(refused[id(call)]), False, 0.0)
        calls = [c for c in calls if id(c) not in refused]
        timeout = max([self.timeout, *(t.timeout for c in calls if (t := self.tools.get(c.name)) and t.timeout)])
        finished: queue.SimpleQueue[ToolResult] = queue.SimpleQueue()
        started = time.monotonic()
        for call in calls:
            threading.Thread(target=lambda c: finished.put(self._timed(c)), args=(call,), name=f"tool-{call.name}",
                             daemon=True).start()
        pending = list(calls)
        while pending:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                for call in pending:
                    yield ToolResult(call, _error(f"{call.name} timed out after {timeout:g} s"), False,
                                     time.monotonic() - started)
                return
            try:  # short steps: a Ctrl-C just before a long blocking wait would wait with it
                result = finished.get(timeout=min(left, _STEP))
            except queue.Empty:
                continue
            pending = [c for c in pending if c is not result.call]
            yield result

    def _refusal(self, call: ToolCall) -> str | None:
        tool = self.tools.get(call.name)
        return self.gate(tool, call) if tool is not None and self.gate is not None else None

    def _timed(self, call: ToolCall) -> ToolResult:
        start = time.monotonic()
        content, ok = self.run(call)
        return ToolResult(call, content, ok, time.monotonic() - start)


def _arguments(tool: Tool, raw: str) -> dict[str, Any]:
    """Parse and check a call's JSON arguments against the tool's schema."""
    try:
        args = json.loads(raw) if raw.strip() else {}
    except ValueError as e:
        raise ValueError(f"arguments are not valid JSON ({e}): {raw[:200]}") from None
    if not isinstance(args, dict):
        raise ValueError("arguments must be a JSON object")
    props = tool.parameters.get("properties") or {}
    for name in tool.parameters.get("required") or []:
        if name not in args:
            raise ValueError(f"missing required argument {name!r}")
    checked = {}
    for name, value in args.items():
        if name not in props:
            continue  # models sometimes add arguments; ignoring them beats failing the call
        prop = props[name]
        if not isinstance(prop, dict):
            checked[name] = value
            continue
        if isinstance(prop.get("enum"), list) and value not in prop["enum"]:
            raise ValueError(f"argument {name!r} must be one of {prop['enum']}, not {value!r}")
        if value is not None and not _is_type(value, prop.get("type")):
            raise ValueError(f"argument {name!r} must be of type {prop.get('type')}, not {type(value).__name__}")
        checked[name] = value
    return checked


_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list,
}


def _is_type(value: Any, json_type: str | None) -> bool:
    if not isinstance(json_type, str):  # e.g. ["string", "null"]: left to the tool to check
        return True
    expected = _PY_TYPES.get(json_type)
    if expected is None:
        return True
    if json_type in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, expected)


def _error(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)
