"""The OpenAI-shaped answer (openai or zhipuai SDK objects, streamed or whole) as typed events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatcli.core.messages import (
    Event,
    Finish,
    ReasoningDelta,
    Sources,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
)


class ChunkAssembler:
    """Turns OpenAI-shaped stream chunks (openai or zhipuai SDK objects) into events.

    Tool-call fragments are merged by index; an empty-string id or name means "absent"
    (DashScope sends `"id": ""` on continuation deltas). Calls, usage and the finish reason
    are emitted by `finish()`, because usage may arrive after the finish chunk.
    """

    def __init__(self) -> None:
        self.calls: dict[int, ToolCall] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.sources: list[dict[str, Any]] = []
        self.anything = False  # any text, reasoning or tool call: a stream without them is empty

    def feed(self, chunk: Any) -> Iterator[Event]:
        """Events for one chunk; TypeError for a field of the wrong type (see chatcli.providers.integrity)."""
        usage = getattr(chunk, "usage", None)
        if usage:
            self.usage = usage_from(usage)
        add_sources(self.sources, _extra(chunk, "web_search"))
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            if delta is not None:
                reasoning = text_of(_extra(delta, "reasoning_content"), "delta.reasoning_content")
                if reasoning:
                    self.anything = True
                    yield ReasoningDelta(reasoning)
                content = text_of(delta.content, "delta.content")
                if content:
                    self.anything = True
                    yield TextDelta(content)
                for tc in getattr(delta, "tool_calls", None) or []:
                    self.anything = True
                    self._merge(tc)
            reason = text_of(choice.finish_reason, "finish_reason")
            if reason:
                self.finish_reason = reason

    def _merge(self, tc: Any) -> None:
        index = tc.index if isinstance(tc.index, int) else len(self.calls)
        call = self.calls.setdefault(index, ToolCall(id="", name=""))
        call_id = text_of(tc.id, "tool_calls.id")
        if call_id:
            call.id = call_id
        fn = tc.function
        if fn is not None:
            name, arguments = text_of(fn.name, "function.name"), text_of(fn.arguments, "function.arguments")
            if name:
                call.name = name
            if arguments:
                call.arguments += arguments

    def finish(self) -> Iterator[Event]:
        if self.sources:
            yield Sources(self.sources)
        for index in sorted(self.calls):
            call = self.calls[index]
            if not call.id:
                call.id = f"call_{index}"
            yield ToolCallEvent(call)
        if self.usage is not None:
            yield UsageEvent(self.usage)
        yield Finish(self.finish_reason)


def events_from_completion(completion: Any) -> Iterator[Event]:
    """Events for a non-streamed completion object (either SDK); TypeError for a field of the wrong type."""
    choice = completion.choices[0] if completion.choices else None
    if choice is not None:
        msg = choice.message
        reasoning = text_of(_extra(msg, "reasoning_content"), "message.reasoning_content")
        if reasoning:
            yield ReasoningDelta(reasoning)
        content = text_of(msg.content, "message.content")
        if content:
            yield TextDelta(content)
        for i, tc in enumerate(msg.tool_calls or []):
            yield ToolCallEvent(ToolCall(text_of(tc.id, "tool_calls.id") or f"call_{i}",
                                         text_of(tc.function.name, "function.name"),
                                         text_of(tc.function.arguments, "function.arguments")))
    sources: list[dict[str, Any]] = []
    add_sources(sources, _extra(completion, "web_search"))
    if sources:
        yield Sources(sources)
    if getattr(completion, "usage", None):
        yield UsageEvent(usage_from(completion.usage))
    yield Finish(text_of(choice.finish_reason, "finish_reason") or None if choice is not None else None)


def text_of(value: Any, name: str) -> str:
    """A text field of what the server sent ("" when absent); TypeError when it is something else."""
    if value is None or isinstance(value, str):
        return value or ""
    raise TypeError(f"`{name}` is not text")


def count_of(value: Any) -> int:
    """A token count as the server sent it: anything but a whole number counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def add_sources(sources: list[dict[str, Any]], found: Any) -> None:
    """Add web search results (Zhipu's top-level `web_search` list) not seen yet."""
    if not isinstance(found, list):
        return
    seen = {(s.get("link"), s.get("title")) for s in sources}
    for item in found:
        if hasattr(item, "model_dump"):
            item = item.model_dump()
        if isinstance(item, dict) and (item.get("link"), item.get("title")) not in seen:
            seen.add((item.get("link"), item.get("title")))
            sources.append(dict(item))


def usage_from(u: Any) -> Usage:
    """A Usage from an SDK usage object or a dict (counts of another type read as 0).

    The token details may be declared fields, pydantic extras or plain dicts: the zhipuai SDK's
    non-stream usage model lacks them, so they arrive as dicts among its extras.
    """
    cached = _field(_field(u, "prompt_tokens_details"), "cached_tokens")
    reasoning = _field(_field(u, "completion_tokens_details"), "reasoning_tokens")
    return Usage(
        prompt_tokens=count_of(_field(u, "prompt_tokens")),
        completion_tokens=count_of(_field(u, "completion_tokens")),
        total_tokens=count_of(_field(u, "total_tokens")),
        cached_tokens=count_of(cached) if cached is not None else None,
        reasoning_tokens=count_of(reasoning) if reasoning is not None else None,
    )


def _field(obj: Any, name: str) -> Any:
    """A field of a dict or an SDK object (declared or a pydantic extra); None when absent."""
    if isinstance(obj, dict):
        return obj.get(name)
    return None if obj is None else _extra(obj, name)


def _extra(obj: Any, name: str) -> Any:
    """An attribute that may be declared or only present as a pydantic extra field."""
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return value
