"""Roles: a named system prompt with its provider, model, options and persona ([roles.NAME], `chat -r NAME`).

Three are built in (shell, translate, code); a [roles.NAME] table of the same name overrides them key by key.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

PERSONA_KEYS = ("bot_name", "bot_info", "user_name", "user_info")  # CharacterGLM's meta, in the seed's keys

_SHELL = (
    "You are a terse shell expert. Answer every request with exactly one shell command that does it, "
    "for a POSIX shell (bash) on Linux unless the user names another system. Output only the command: "
    "no explanation, no prose, no code fence, no backticks, no leading $ prompt. Chain steps with && or a "
    "pipe to keep it one line. If the request is ambiguous, pick the most common safe reading; never "
    "output a destructive command (rm -rf, dd, mkfs) unless it is asked for explicitly."
)
_TRANSLATE = (
    "你是一名专业翻译。用户发来中文时，把它翻译成英文；发来英文时，翻译成中文。"
    "只输出译文：不要解释、不要注音、不要加引号或前言，保留原文的格式、换行和 Markdown。\n"
    "You are a professional translator between Chinese and English. If the user writes Chinese, translate "
    "it into English; if English, translate it into Chinese. Output only the translation, nothing else: no "
    "notes, no quotes, no preamble; keep the original formatting, line breaks and Markdown."
)
_CODE = (
    "You are an expert programmer. Answer with code only: no prose, no explanation before or after, no "
    "markdown code fence. Put any note the reader truly needs in a comment of the code's language. If no "
    "language is named, infer it from the request or use Python."
)

BUILTIN_ROLES: dict[str, dict[str, Any]] = {
    "shell": {"system": _SHELL, "description": "one shell command, nothing else", "tools": False},
    "translate": {"system": _TRANSLATE, "description": "中英互译: Chinese <-> English, nothing else",
                  "tools": False},
    "code": {"system": _CODE, "description": "code only, no prose", "tools": False},
}


@dataclass
class Role:
    """One [roles.NAME] table: what a session takes on with `-r NAME` or `/role NAME`."""

    name: str
    system: str | None = None
    provider: str | None = None  # None: the session's (or the default) provider
    model: str | None = None
    description: str | None = None
    tools: bool | None = None  # None: as [tools] enabled says
    assistant_id: str | None = None  # a Zhipu assistant for this role, instead of the provider's
    temperature: float | None = None  # generation options: over the provider's defaults, under the flags
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    search: bool | None = None
    think: bool | None = None
    bot_name: str | None = None  # the persona: who the assistant plays, and who the user is
    bot_info: str | None = None
    user_name: str | None = None
    user_info: str | None = None

    def persona(self) -> dict[str, str]:
        """The persona keys that are set, in CharacterGLM's `meta` shape."""
        return {k: v for k in PERSONA_KEYS if (v := getattr(self, k))}


ROLE_FIELDS = tuple(f.name for f in fields(Role) if f.name != "name")


def is_charglm(kind: str, model: str) -> bool:
    """Whether a model takes the persona as `meta` (Zhipu's CharacterGLM) rather than as a system prompt."""
    return kind == "zhipu" and model.lower().startswith("charglm")


def persona_prompt(persona: dict[str, str]) -> str | None:
    """The persona as a system prompt, for models without CharacterGLM's `meta`; None without a persona."""
    if not persona:
        return None
    bot, user = persona.get("bot_name"), persona.get("user_name")
    lines = [f"You are playing a character{f' named {bot}' if bot else ''}. Stay in character: speak as "
             f"{bot or 'this character'} would, in the first person, and never say you are an AI."]
    if persona.get("bot_info"):
        lines.append(f"About {bot or 'your character'}: {persona['bot_info']}")
    if user:
        lines.append(f"The user is {user}.")
    if persona.get("user_info"):
        lines.append(f"About {user or 'the user'}: {persona['user_info']}")
    return "\n".join(lines)


def role_system(role: Role, kind: str, model: str) -> str | None:
    """The system prompt a role sends with this model: its own, after the persona's (none for CharacterGLM's)."""
    persona = None if is_charglm(kind, model) else persona_prompt(role.persona())
    parts = [p for p in (persona, role.system) if p]
    return "\n\n".join(parts) if parts else None


def role_meta(role: Role | None, kind: str, model: str) -> dict[str, str] | None:
    """CharacterGLM's `meta` for a role's persona, or None (no persona, or another model)."""
    if role is None or not is_charglm(kind, model):
        return None
    return role.persona() or None
