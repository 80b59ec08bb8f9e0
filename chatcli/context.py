"""Context windows and token estimates (a rough count that is sensible for Chinese and English)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from chatcli.messages import Message

DEFAULT_WINDOW = 32_768
# Input context windows of well-known models, in tokens; prefixes match versioned names.
WINDOWS: dict[str, int] = {
    "qwen-long": 10_000_000,
    "qwen-turbo": 1_000_000,
    "qwen-plus": 131_072,
    "qwen-max": 32_768,
    "qwen3-max": 262_144,
    "qwen-vl": 131_072,
    "qwq": 131_072,
    "glm-4-long": 1_000_000,
    "glm-4.5": 131_072,
    "glm-4": 131_072,
    "glm-z1": 32_768,
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "o4-mini": 200_000,
}

_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def context_window(model: str) -> int:
    """The model's context window in tokens (longest matching known prefix, else a default)."""
    best = max((p for p in WINDOWS if model.startswith(p)), key=len, default=None)
    return WINDOWS[best] if best else DEFAULT_WINDOW


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
        for call in m.tool_calls:
            total += estimate_text(call.name) + estimate_text(call.arguments)
    return total
