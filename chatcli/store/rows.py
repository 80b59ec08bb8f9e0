"""Stored rows <-> messages: what a message is saved as, and reading a row back (or why it cannot be)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from chatcli.core.messages import Message, ToolCall, Usage, content_text

ROLES = ("user", "assistant", "tool")  # a system prompt is saved on the conversation, not as a message
_TEXT = ("role", "content", "parts", "reasoning", "tool_calls", "tool_call_id", "name", "provider", "model",
         "usage")
FIELDS = (*_TEXT, "created", "interrupted", "failed", "withdrawn")
ORDER = "coalesce(turn, id), id"  # by turn, then as written: see schema._migrate_v2
INSERT_MESSAGE = f"INSERT INTO messages (conversation_id, turn, {', '.join(FIELDS)})" \
    f" VALUES (?, ?{', ?' * len(FIELDS)})"
# Text as bytes, decoded here: a row with bad UTF-8 is skipped, not the whole conversation.
SELECT_MESSAGES = "SELECT id, " + ", ".join(f"CAST({f} AS BLOB)" if f in _TEXT else f for f in FIELDS) + \
    f" FROM messages WHERE conversation_id = ? ORDER BY {ORDER}"


@dataclass
class StoredMessage:
    """A saved message and what the store knows about it beyond the Message itself."""

    id: int
    message: Message
    created: float
    provider: str | None = None
    model: str | None = None
    usage: Usage | None = None
    failed: bool = False


class Unreadable(ValueError):
    """A stored row that is not a message this code can use (the reason is the text)."""


def message_row(message: Message, *, provider: str | None, model: str | None, usage: Usage | None,
                failed: bool, created: float) -> tuple[Any, ...]:
    """The values of FIELDS for a message."""
    text, parts = _split_content(message.content)
    calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]
    values = (message.role, text, parts, message.reasoning or None,
              _dumps(calls) if calls else None, message.tool_call_id, message.name, provider, model,
              json.dumps(usage.to_dict()) if usage else None)
    return (*map(_clean, values), created, int(message.interrupted), int(failed), int(message.withdrawn))


def readable(rows: list[tuple]) -> tuple[list[StoredMessage], list[str]]:
    """The rows (from SELECT_MESSAGES) that decode, and why each other one does not."""
    out, bad = [], []
    for row in rows:
        try:
            out.append(decode(row))
        except Unreadable as err:
            bad.append(f"message {row[0]}: {err}")
    return out, bad


def decode(row: tuple) -> StoredMessage:
    """A row from SELECT_MESSAGES as a message; Unreadable if it is not one."""
    mid, *values = row
    raw = dict(zip(FIELDS, values, strict=True))
    text = {name: _strict(name, raw[name]) for name in ("role", "content", "parts", "tool_calls", "tool_call_id",
                                                         "name")}
    role = text["role"]
    if role not in ROLES:
        raise Unreadable(f"unknown role {role!r}")
    content: Any = text["content"]
    if text["parts"] is not None:
        content = _json("parts", text["parts"])
        if not isinstance(content, list) or not all(isinstance(p, dict) for p in content):
            raise Unreadable("parts is not a list of content parts")
    message = Message(role, content, reasoning=_lenient(raw["reasoning"]),
                      tool_calls=_calls(text["tool_calls"]), tool_call_id=text["tool_call_id"],
                      name=text["name"], interrupted=bool(raw["interrupted"]), withdrawn=bool(raw["withdrawn"]))
    created = raw["created"] if isinstance(raw["created"], (int, float)) else 0.0
    return StoredMessage(mid, message, float(created), _lenient(raw["provider"]), _lenient(raw["model"]),
                         _usage(raw["usage"]), bool(raw["failed"]))


def sendable(records: list[StoredMessage]) -> list[StoredMessage]:
    """The records as a history a provider accepts: every tool result right after the call it answers and
    no call without its result (a skipped row can break a pair). A consistent history comes back as it was."""
    out: list[StoredMessage] = []
    caller = -1  # the assistant message whose calls are being answered
    waiting: set[str] = set()  # its calls still without a result

    def close() -> None:
        if not waiting:
            return
        r = out[caller]
        calls = [c for c in r.message.tool_calls if c.id not in waiting]
        if calls or content_text(r.message.content):
            out[caller] = dataclasses.replace(r, message=dataclasses.replace(r.message, tool_calls=calls))
        else:
            del out[caller]  # nothing answered it, so no tool result follows it
        waiting.clear()

    for r in records:
        m = r.message
        if m.role == "tool":
            if m.tool_call_id in waiting:
                waiting.discard(m.tool_call_id)
                out.append(r)
            continue  # a result whose call is not right before it
        close()
        out.append(r)
        if m.role == "assistant" and m.tool_calls:
            caller, waiting = len(out) - 1, {c.id for c in m.tool_calls}
    close()
    return out


def _split_content(content: Any) -> tuple[str | None, str | None]:
    """(searchable text, JSON of the parts if content is a list of parts)."""
    if content is None or isinstance(content, str):
        return content, None
    return content_text(content), _dumps(content)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _clean(value: Any) -> Any:
    """Text SQLite can store: a lone surrogate (which UTF-8 cannot encode) becomes "?"."""
    if not isinstance(value, str):
        return value
    try:
        value.encode()
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode()
    return value


def _strict(name: str, raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return bytes(raw).decode()
    except UnicodeDecodeError:
        raise Unreadable(f"{name} is not valid UTF-8") from None


def _lenient(raw: bytes | None) -> str | None:
    """A field the message does without if need be: bad bytes become U+FFFD."""
    return None if raw is None else bytes(raw).decode("utf-8", "replace")


def _json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise Unreadable(f"{name} is not valid JSON") from None


def _calls(text: str | None) -> list[ToolCall]:
    if text is None:
        return []
    calls = _json("tool_calls", text)
    if not isinstance(calls, list) or not all(isinstance(c, dict) and isinstance(c.get("id"), str)
                                              and isinstance(c.get("name"), str) for c in calls):
        raise Unreadable("tool_calls is not a list of calls")
    return [ToolCall(c["id"], c["name"], str(c.get("arguments") or "")) for c in calls]


def _usage(raw: bytes | None) -> Usage | None:
    """Usage, or None if it is missing or unreadable (it is only a figure)."""
    try:
        data = json.loads(bytes(raw).decode()) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    known = Usage.__dataclass_fields__
    try:
        return Usage(**{k: int(v) for k, v in data.items() if k in known and v is not None})
    except (TypeError, ValueError):
        return None
