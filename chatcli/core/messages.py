"""Messages, tool calls, usage, requests and the typed events a provider yields."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatcli.core.options import GenerationOptions


@dataclass
class ToolCall:
    """One complete function call requested by the model (arguments are raw JSON text)."""

    id: str
    name: str
    arguments: str = ""

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class Usage:
    """Token counts as reported by the provider."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        def both(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            both(self.cached_tokens, other.cached_tokens),
            both(self.reasoning_tokens, other.reasoning_tokens),
        )

    def to_dict(self) -> dict[str, int]:
        d = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens is not None:
            d["cached_tokens"] = self.cached_tokens
        if self.reasoning_tokens is not None:
            d["reasoning_tokens"] = self.reasoning_tokens
        return d


@dataclass
class Message:
    """One chat message in the provider-neutral form."""

    role: str
    content: str | list[dict[str, Any]] | None = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    interrupted: bool = False  # the answer was cut short (Ctrl-C, error); kept, never sent as a flag
    withdrawn: bool = False  # stopped by the provider's safety review: kept, not sent back unless asked

    def to_api(self) -> dict[str, Any]:
        """The OpenAI-style dict both SDKs accept; reasoning is never sent back.

        List content is copied: the zhipuai SDK rewrites image parts in place (it strips the
        `data:image/...;base64,` prefix), which must not reach the history or the store.
        """
        content = copy.deepcopy(self.content) if isinstance(self.content, list) else self.content
        d: dict[str, Any] = {"role": self.role, "content": content}
        if self.tool_calls:
            d["tool_calls"] = [c.to_api() for c in self.tool_calls]
        if self.tool_call_id is not None:
            d["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            d["name"] = self.name
        return d


FILEID_PART = "fileid"  # {"type": "fileid", "file_id", "name"}: a document uploaded to DashScope


def content_text(content: str | list[dict[str, Any]] | None, *, marks: bool = False, sep: str = "\n") -> str:
    """The text of message content: its text parts (untyped `{"text": ...}` parts too, as native replies send).

    With marks, the other parts come first as `[image]`, `[video: 3 frames]`, `[document a.pdf]`.
    """
    if not isinstance(content, list):
        return content or ""
    texts, labels = [], []
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type", "text" if "text" in part else None)
        if kind == "text":
            texts.append(str(part.get("text") or ""))
        elif marks:
            labels.append(part_label(part))
    text = sep.join(texts)
    return " ".join([*labels, text]).strip() if marks else text


def part_label(part: dict[str, Any]) -> str:
    """A non-text content part in a listing."""
    kind = part.get("type")
    if kind == "video":
        return f"[video: {len(part.get('video') or [])} frames]"
    if kind == FILEID_PART:
        return f"[document {part.get('name') or part.get('file_id')}]"
    return "[image]" if kind == "image_url" else f"[{kind or 'part'}]"


class TextParts:
    """Text that grows piece by piece in linear time: pieces are joined only when it is read."""

    __slots__ = ("_parts", "_size")

    def __init__(self, text: str = "") -> None:
        self._parts: list[str] = [text] if text else []
        self._size = len(text)

    def add(self, text: str) -> None:
        if text:
            self._parts.append(text)
            self._size += len(text)

    def __len__(self) -> int:
        return self._size

    def __str__(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def endswith(self, suffix: str) -> bool:
        """Whether the text ends with suffix (reads only the last pieces)."""
        tail, i = "", len(self._parts)
        while i and len(tail) < len(suffix):
            i -= 1
            tail = self._parts[i] + tail
        return tail.endswith(suffix)


@dataclass
class ChatRequest:
    """What a provider is asked to do in one call."""

    messages: list[Message]
    model: str
    tools: list[dict[str, Any]] | None = None
    stream: bool = True
    generation: GenerationOptions | None = None  # sampling, search, thinking, JSON mode
    meta: dict[str, str] | None = None  # a CharacterGLM persona (bot_name, bot_info, user_name, user_info)


@dataclass
class TextDelta:
    text: str


@dataclass
class ReasoningDelta:
    text: str


@dataclass
class ToolCallEvent:
    call: ToolCall


@dataclass
class UsageEvent:
    usage: Usage


@dataclass
class Finish:
    reason: str | None


@dataclass
class ToolResult:
    """A local tool call has finished (content is the JSON text sent back to the model)."""

    call: ToolCall
    content: str
    ok: bool
    seconds: float


@dataclass
class Notice:
    """Something the user should be told, outside the answer text."""

    text: str


@dataclass
class Sources:
    """Web pages the provider's search used (Zhipu: title, link, media, content, ...)."""

    items: list[dict[str, Any]]


Event = TextDelta | ReasoningDelta | ToolCallEvent | UsageEvent | Finish | ToolResult | Notice | Sources
