"""A conversation's row as the store gives it back: its details, and search hits."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CONVERSATION_COLUMNS = "c.id, c.title, c.created, c.updated, c.provider, c.model, c.system, " \
    "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id), c.role, c.extra"


@dataclass
class ConversationInfo:
    """One saved conversation: its row, and how many messages it has."""

    id: str
    title: str
    created: float
    updated: float
    provider: str
    model: str
    system: str | None
    message_count: int
    role: str | None = None  # the role it was started with (`chat -r NAME`), or last switched to
    extra: dict[str, Any] = field(default_factory=dict)  # per-conversation state, e.g. provider_state.NAME


@dataclass
class SearchHit:
    """One message that matched a search."""

    conversation_id: str
    title: str
    role: str
    snippet: str
    created: float


def conversation_info(row: tuple) -> ConversationInfo:
    """A row of CONVERSATION_COLUMNS."""
    cid, title, created, updated, provider, model, system, count, role, extra = row
    return ConversationInfo(cid, title or "", _seconds(created), _seconds(updated), provider or "", model or "",
                            system, count, role or None, json_object(extra))


def json_object(text: Any) -> dict[str, Any]:
    """A stored JSON object; {} for none or one that does not parse."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0
