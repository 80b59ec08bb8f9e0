"""The model catalog: what each known model family takes, declared once by name prefix.

A leaf module (it imports nothing from chatcli): the context budget, the tool set and the
providers' capabilities all read it. A family's prefix matches versioned names
(`qwen-plus` covers `qwen-plus-2025-01-25`); the longest matching prefix wins, so `glm-4v`
overrides `glm-4`. Unknown models get DEFAULT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Endpoint = Literal["text", "multimodal"]

DEFAULT_WINDOW = 32_768


@dataclass(frozen=True)
class Family:
    """One model family: its input context window (tokens) and what it takes."""

    prefix: str
    window: int = DEFAULT_WINDOW
    vision: bool = False  # takes images
    video: bool = False  # takes video as a list of frames (DashScope's `video` part)
    tools: bool = True  # takes a request that offers tools
    thinking: bool = False  # can stream reasoning_content
    documents: bool = False  # reads uploaded documents as fileid://ID (DashScope)
    endpoint: Endpoint = "text"  # DashScope native: text- or multimodal-generation


DEFAULT = Family("")

# Vision models refuse a request that offers tools (DashScope: qwen-vl "不支持 tools"; GLM-4V likewise).
# The native gateway binds vision, omni and audio models and the newest qwen3.5+ models to the
# multimodal endpoint (DashScope's MultiModalConversation); the rest answer on text-generation.
_QWEN_NEWEST = tuple(Family(f"qwen3.{minor}{tier}", window=1_000_000 if tier else 262_144, vision=True, video=True,
                            thinking=True, endpoint="multimodal")
                     for minor in (5, 6, 7) for tier in ("", "-plus", "-flash"))
FAMILIES: tuple[Family, ...] = (
    Family("qwen-long", window=10_000_000, documents=True),
    Family("qwen-turbo", window=1_000_000, thinking=True),
    Family("qwen-plus", window=131_072, thinking=True),
    Family("qwen-max", window=32_768),
    Family("qwen3-max", window=262_144),
    Family("qwen-vl", window=131_072, vision=True, video=True, tools=False, endpoint="multimodal"),
    Family("qwen2-vl", vision=True, video=True, tools=False, endpoint="multimodal"),
    Family("qwen2.5-vl", vision=True, video=True, tools=False, endpoint="multimodal"),
    Family("qwen3-vl", window=262_144, vision=True, video=True, thinking=True, endpoint="multimodal"),
    Family("qwen-omni", vision=True, video=True, endpoint="multimodal"),
    Family("qwen2.5-omni", vision=True, video=True, endpoint="multimodal"),
    Family("qwen3-omni", window=65_536, vision=True, video=True, endpoint="multimodal"),
    Family("qwen-audio", endpoint="multimodal"),
    Family("qwen2-audio", endpoint="multimodal"),
    Family("qvq", vision=True, video=True, tools=False, thinking=True, endpoint="multimodal"),
    *_QWEN_NEWEST,
    Family("qwq", window=131_072, thinking=True),
    Family("glm-4-long", window=1_000_000),
    Family("glm-4.5", window=131_072, thinking=True),
    Family("glm-4v", window=131_072, vision=True, tools=False),
    Family("glm-4", window=131_072),
    Family("glm-z1", window=32_768, thinking=True),
    Family("gpt-4o", window=128_000, vision=True),
    Family("gpt-4.1", window=1_047_576, vision=True),
    Family("o4-mini", window=200_000, vision=True, thinking=True),
)

# The models each preset suggests (`models` in config), in menu order.
SUGGESTED: dict[str, tuple[str, ...]] = {
    "qwen": ("qwen-plus", "qwen-max", "qwen-turbo", "qwen-long", "qwen3-max", "qwen-vl-plus", "qwq-plus"),
    "glm": ("glm-4-plus", "glm-4-air", "glm-4-flash", "glm-4-long", "glm-4v-plus", "glm-4.5", "glm-z1-air"),
    "openai": ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o4-mini"),
}


def family(model: str, *, ignore_case: bool = False) -> Family:
    """The family of `model`: the longest matching prefix, else DEFAULT."""
    name = model.lower() if ignore_case else model
    return max((f for f in FAMILIES if name.startswith(f.prefix)), key=lambda f: len(f.prefix), default=DEFAULT)


def suggested_models(family: str) -> list[str]:
    """The models a preset of this family ("qwen", "glm", "openai") suggests; empty if none."""
    return list(SUGGESTED.get(family, ()))
