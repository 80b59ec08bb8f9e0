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

    def feed(self, chunk: Any) -> Iterator[Event]:
        usage = getattr(chunk, "usage", None)
        if usage:
            self.usage = usage_from(usage)
        add_sources(self.sources, _extra(chunk, "web_search"))
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            if delta is not None:
                reasoning = _extra(delta, "reasoning_content")
                if reasoning:
                    yield ReasoningDelta(reasoning)
                if delta.content:
                    yield TextDelta(delta.content)
                for tc in getattr(delta, "tool_calls", None) or []:
                    self._merge(tc)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason

    def _merge(self, tc: Any) -> None:
        index = tc.index if tc.index is not None else len(self.calls)
        call = self.calls.setdefault(index, ToolCall(id="", name=""))
        if tc.id:
            call.id = tc.id
        fn = tc.function
        if fn is not None:
            if fn.name:
                call.name = fn.name
            if fn.arguments:
                call.arguments += fn.arguments

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
    """Events for a non-streamed completion object (either SDK)."""
    choice = completion.choices[0] if completion.choices else None
    if choice is not None:
        msg = choice.message
        reasoning = _extra(msg, "reasoning_content")
        if reasoning:
            yield ReasoningDelta(reasoning)
        if msg.content:
            yield TextDelta(msg.content)
        for i, tc in enumerate(msg.tool_calls or []):
            yield ToolCallEvent(ToolCall(tc.id or f"call_{i}", tc.function.name, tc.function.arguments or ""))
    sources: list[dict[str, Any]] = []
    add_sources(sources, _extra(completion, "web_search"))
    if sources:
        yield Sources(sources)
    if getattr(completion, "usage", None):
        yield UsageEvent(usage_from(completion.usage))
    yield Finish(choice.finish_reason if choice is not None else None)


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
    """A Usage from an SDK usage object."""
    ptd = getattr(u, "prompt_tokens_details", None)
    ctd = getattr(u, "completion_tokens_details", None)
    return Usage(
        prompt_tokens=u.prompt_tokens or 0,
        completion_tokens=u.completion_tokens or 0,
        total_tokens=u.total_tokens or 0,
        cached_tokens=getattr(ptd, "cached_tokens", None) if ptd else None,
        reasoning_tokens=getattr(ctd, "reasoning_tokens", None) if ctd else None,
    )


def _extra(obj: Any, name: str) -> Any:
    """An attribute that may be declared or only present as a pydantic extra field."""
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return value
