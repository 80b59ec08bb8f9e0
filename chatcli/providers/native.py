"""DashScope's native protocol on the wire: its SSE framing, its content parts, its results as typed events.

The framing is read as the official `dashscope` SDK reads it: every `data:` line is one event,
with the `event:` name and `:HTTP_STATUS/NNN` comment seen since the previous data line, so
events may follow each other without blank lines (seed 002 prints them so).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from chatcli.core.messages import (
    Event,
    Finish,
    ReasoningDelta,
    Sources,
    TextDelta,
    TextParts,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
    content_text,
)
from chatcli.providers.catalog import Endpoint
from chatcli.providers.chunks import count_of, text_of

TEXT_PATH = "/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/services/aigc/multimodal-generation/generation"
PATHS: dict[Endpoint, str] = {"text": TEXT_PATH, "multimodal": MULTIMODAL_PATH}


def other(endpoint: Endpoint) -> Endpoint:
    """The endpoint a model is not on, when the gateway says it is on the other one."""
    return "text" if endpoint == "multimodal" else "multimodal"


def is_url_error(payload: Any) -> bool:
    """Whether an error body says the model lives on the other endpoint ("url error, please check url")."""
    return (isinstance(payload, dict) and payload.get("code") == "InvalidParameter"
            and "url error" in str(payload.get("message", "")).lower())


def sse_events(lines: Iterable[str]) -> Iterator[tuple[int | None, str | None, str]]:
    """(HTTP status from `:HTTP_STATUS/NNN`, event name, data) for each `data:` line.

    A blank line ends an event too, forgetting its status and name, so blank-line framing works.
    """
    status: int | None = None
    event: str | None = None
    for line in lines:
        if not line:
            status, event = None, None
        elif line.startswith("data:"):
            yield status, event, line[5:].lstrip(" ")
            status, event = None, None
        elif line.startswith(":HTTP_STATUS/"):
            try:
                status = int(line.split("/", 1)[1])
            except ValueError:
                pass
        elif line.startswith("event:"):
            event = line[6:].strip()


# --- the request ---------------------------------------------------------------------------------

def native_messages(messages: list[dict[str, Any]], endpoint: Endpoint) -> list[dict[str, Any]]:
    """Wire messages (OpenAI-style content) as the endpoint reads them.

    Multimodal: content is a list of `{"text"}`, `{"image": URL}`, `{"video": [frames]}` parts (a tool
    result stays text, as DashScope's examples send it). Text: lists of text parts only are joined.
    """
    out = []
    for m in messages:
        content = m.get("content")
        if endpoint == "multimodal":
            if isinstance(content, list):
                content = [p for p in (native_part(part) for part in content) if p is not None]
            elif content and m.get("role") != "tool":
                content = [{"text": content}]
        elif isinstance(content, list) and all(_is_text(p) for p in content):
            content = content_text(content)
        elif isinstance(content, list):
            content = [p for p in (native_part(part) for part in content) if p is not None]
        out.append({**m, "content": content})
    return out


def _is_text(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type", "text" if "text" in part else None) == "text"


def native_part(part: Any) -> dict[str, Any] | None:
    """One OpenAI-style content part as a native one (native parts pass through; unknown ones are dropped)."""
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind == "text" or (kind is None and "text" in part):
        return {"text": str(part.get("text") or "")}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return {"image": url} if url else None
    if kind == "video" or (kind is None and "video" in part):
        return {"video": list(part.get("video") or [])}
    if kind is None and ("image" in part or "audio" in part):
        return dict(part)
    return None


# --- the answer ----------------------------------------------------------------------------------

class NativeAssembler:
    """Native result events to typed events.

    Incremental output (what streams ask for): each event carries new text, and tool-call argument
    fragments merged by index. Some models repeat the whole text anyway: a piece longer than the text
    so far that starts with all of it contributes only its suffix, and once that happened a piece
    equal to the text is a repeat too (compared only when that long, so accumulation stays linear).
    Cumulative output (incremental=False, a whole answer): each event repeats all so far.
    """

    def __init__(self, incremental: bool = True) -> None:
        self.incremental = incremental
        self.text = TextParts()
        self.reasoning = TextParts()
        self.calls: dict[int, ToolCall] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.sources: list[dict[str, Any]] = []
        self._repeating: set[str] = set()  # fields whose pieces have repeated the whole text so far

    def feed(self, data: dict[str, Any]) -> Iterator[Event]:
        usage = data.get("usage")
        if isinstance(usage, dict) and usage:
            self.usage = native_usage(usage)
        output = data.get("output") or {}
        self._add_sources(output.get("search_info"))
        for choice in output.get("choices") or []:
            message = choice.get("message") or {}
            reasoning = self._delta("reasoning", text_of(message.get("reasoning_content"), "reasoning_content"))
            if reasoning:
                yield ReasoningDelta(reasoning)
            text = self._delta("text", content_text(message.get("content"), sep=""))  # multimodal: a list of parts
            if text:
                yield TextDelta(text)
            for position, tc in enumerate(message.get("tool_calls") or []):
                self._merge(self._index(tc, position), tc)
            reason = text_of(choice.get("finish_reason"), "finish_reason")
            if reason and reason != "null":
                self.finish_reason = reason

    def _delta(self, field: str, value: str | None) -> str:
        """The new part of a text field."""
        if not value:
            return ""
        seen: TextParts = getattr(self, field)
        longer = len(value) > len(seen) > 0 or (len(value) == len(seen) > 0 and field in self._repeating)
        if longer or not self.incremental:
            so_far = str(seen)
            if value.startswith(so_far):  # the whole text again: only its suffix is new
                self._repeating.add(field)  # from now on a piece equal to the text is a repeat too
                new = value[len(so_far):]
                seen.add(new)
                return new
            if not self.incremental:  # the text was rewritten: start over from this event
                setattr(self, field, TextParts(value))
                return value
        seen.add(value)
        return value

    def _index(self, tc: dict[str, Any], position: int) -> int:
        """The call a piece belongs to: its index; without one, a new call for a new id, else the last call."""
        index = tc.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            return index
        if not self.incremental:
            return position
        call_id = text_of(tc.get("id"), "tool_calls.id")
        if not self.calls or (call_id and all(c.id != call_id for c in self.calls.values())):
            return len(self.calls)
        return max(self.calls) if not call_id else next(i for i, c in self.calls.items() if c.id == call_id)

    def _merge(self, index: int, tc: dict[str, Any]) -> None:
        call = self.calls.setdefault(index, ToolCall(id="", name=""))
        fn = tc.get("function") or {}
        call_id, name = text_of(tc.get("id"), "tool_calls.id"), text_of(fn.get("name"), "function.name")
        arguments = text_of(fn.get("arguments"), "function.arguments")
        if call_id:
            call.id = call_id
        if name:
            call.name = name
        if arguments:
            call.arguments = call.arguments + arguments if self.incremental else arguments

    def _add_sources(self, info: Any) -> None:
        """Web pages from `output.search_info.search_results`, keyed as Zhipu's (title, link, media)."""
        results = info.get("search_results") if isinstance(info, dict) else None
        if not isinstance(results, list):
            return
        seen = {(s.get("link"), s.get("title")) for s in self.sources}
        for item in results:
            if not isinstance(item, dict):
                continue
            index = item.get("index")
            source = {"title": item.get("title"), "link": item.get("url"), "media": item.get("site_name"),
                      "refer": f"ref_{index}" if isinstance(index, int) else None, "icon": item.get("icon")}
            source = {k: v for k, v in source.items() if v not in (None, "")}
            if (source.get("link"), source.get("title")) not in seen:
                seen.add((source.get("link"), source.get("title")))
                self.sources.append(source)

    @property
    def anything(self) -> bool:
        """Whether any text, reasoning or tool call arrived (a stream without them is empty)."""
        return bool(len(self.text) or len(self.reasoning) or self.calls)

    def finish(self) -> Iterator[Event]:
        if self.sources:
            yield Sources(self.sources)
        for index in sorted(self.calls):
            call = self.calls[index]
            call.id = call.id or f"call_{index}"
            yield ToolCallEvent(call)
        if self.usage is not None:
            yield UsageEvent(self.usage)
        yield Finish(self.finish_reason)


def native_usage(usage: dict[str, Any]) -> Usage:
    """Native usage: input/output/total tokens, cached prompt tokens and reasoning tokens where reported."""
    inp, out = count_of(usage.get("input_tokens")), count_of(usage.get("output_tokens"))
    cached = _detail(usage, "prompt_tokens_details", "cached_tokens")
    if cached is None:
        cached = _detail(usage, "input_tokens_details", "cached_tokens")
    reasoning = _detail(usage, "output_tokens_details", "reasoning_tokens")
    return Usage(inp, out, count_of(usage.get("total_tokens")) or inp + out,
                 cached_tokens=count_of(cached) if cached is not None else None,
                 reasoning_tokens=count_of(reasoning) if reasoning is not None else None)


def _detail(usage: dict[str, Any], group: str, name: str) -> Any:
    details = usage.get(group)
    return details.get(name) if isinstance(details, dict) else None
