"""Context windows and token estimates (a rough count that is sensible for Chinese and English)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from chatcli.core.messages import Message
from chatcli.providers.catalog import family

_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def context_window(model: str) -> int:
    """The model's context window in tokens, from the model catalog."""
    return family(model).window


def estimate_text(text: str) -> int:
    """Tokens in text: about one per CJK character, one per four other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


def estimate_messages(messages: Iterable[Message]) -> int:
    """Tokens a request with these messages would carry (content, tool calls, per-message overhead)."""
    total = 0
    for m in messages:
        total += 4
        if isinstance(m.content, str):
            total += estimate_text(m.content)
        elif isinstance(m.content, list):
            total += sum(_part_tokens(p) for p in m.content if isinstance(p, dict))
        for call in m.tool_calls:
            total += estimate_text(call.name) + estimate_text(call.arguments)
    return total


def _part_tokens(part: dict) -> int:
    """A content part: its text, or a rough figure for an image (~1k) or a video frame (~0.5k)."""
    kind = part.get("type")
    if kind == "text":
        return estimate_text(part.get("text", ""))
    if kind == "video":
        return 500 * len(part.get("video") or [])
    return 1000 if kind == "image_url" else 0


def budget(model: str, max_tokens: int | None = None) -> int:
    """Tokens a request may carry: the configured maximum, else the window less room for the answer."""
    if max_tokens:
        return max_tokens
    window = context_window(model)
    return window - min(8192, window // 4)


def fit(messages: list[Message], limit: int) -> tuple[list[Message], int]:
    """The messages to send within limit, and how many of the oldest turns were left out.

    A turn is a user message and everything up to the next one, so a tool exchange is never
    split. The system prompt and the current (last) turn are always kept.
    """
    head = messages[:1] if messages and messages[0].role == "system" else []
    starts = [i for i, m in enumerate(messages) if m.role == "user" and i >= len(head)]
    if len(starts) <= 1 or estimate_messages(messages) <= limit:
        return list(messages), 0
    fixed = estimate_messages(head)
    sizes = [estimate_messages(messages[a:b]) for a, b in zip(starts, starts[1:] + [len(messages)], strict=True)]
    total, dropped = fixed + sum(sizes), 0
    while dropped < len(starts) - 1 and total > limit:
        total -= sizes[dropped]
        dropped += 1
    return head + messages[starts[dropped]:], dropped
