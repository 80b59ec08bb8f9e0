"""A saved conversation as markdown (to read) or JSON (every stored field)."""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from chatcli.core.messages import content_text
from chatcli.errors import UsageError
from chatcli.jsontext import json_text

if TYPE_CHECKING:
    from chatcli.store.store import ConversationInfo, StoredMessage

FORMATS = ("md", "json")
BRIEF = 300  # characters of a tool result shown in markdown
WITHDRAWN_NOTE = "Withdrawn: the provider's safety review stopped this answer; it is not sent back to the model."


def export(info: ConversationInfo, records: list[StoredMessage], fmt: str, assistant: str | None = None) -> str:
    """The conversation in the given format ("md" or "json"); answers in markdown headed `assistant` if given."""
    if fmt == "json":
        return to_json(info, records)
    if fmt == "md":
        return to_markdown(info, records, assistant)
    raise UsageError(f"unknown export format {fmt!r} (use one of: {', '.join(FORMATS)})")


def record_dict(record: StoredMessage) -> dict[str, Any]:
    """One saved message as a JSON-ready dict with every stored field."""
    m = record.message
    return {
        "id": record.id,
        "role": m.role,
        "content": m.content,
        "reasoning": m.reasoning,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls],
        "tool_call_id": m.tool_call_id,
        "name": m.name,
        "provider": record.provider,
        "model": record.model,
        "usage": record.usage.to_dict() if record.usage else None,
        "created": record.created,
        "interrupted": m.interrupted,
        "failed": record.failed,
        "withdrawn": m.withdrawn,
    }


def to_json(info: ConversationInfo, records: list[StoredMessage]) -> str:
    data = {"conversation": asdict(info), "messages": [record_dict(r) for r in records]}
    return json_text(data, indent=2) + "\n"


def stamp(ts: float) -> str:
    """A local date and time to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def code(text: str) -> str:
    """Inline code that survives backticks inside text."""
    text = " ".join(text.split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def brief(text: str, limit: int = BRIEF) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def heading(record: StoredMessage, assistant: str | None = None) -> str:
    """The heading of one message: role (an answer: the persona's name if given), model, time and flags."""
    m = record.message
    label = {"user": "User", "assistant": assistant or "Assistant", "tool": "Tool result"}.get(m.role, m.role.title())
    if m.role == "tool" and m.name:
        label += f": {m.name}"
    details = [d for d in (record.model if m.role == "assistant" else None, stamp(record.created)) if d]
    flags = [f for f, on in (("interrupted", m.interrupted), ("failed", record.failed), ("withdrawn", m.withdrawn))
             if on]
    return f"## {label} · {' · '.join(details)}" + (f" ({', '.join(flags)})" if flags else "")


def to_markdown(info: ConversationInfo, records: list[StoredMessage], assistant: str | None = None) -> str:
    """The conversation as readable markdown; answers headed `assistant` (a persona's name) if given."""
    out = [f"# {info.title or '(untitled)'}", ""]
    out.append(f"- id: {info.id}")
    out.append(f"- started: {stamp(info.created)}, last message: {stamp(info.updated)}")
    if info.provider or info.model:
        out.append(f"- model: {' / '.join(x for x in (info.provider, info.model) if x)}")
    if info.role:
        out.append(f"- role: {info.role}")
    out.append("")
    if info.system:
        out += ["## System", "", info.system.strip(), ""]
    for record in records:
        m = record.message
        out += [heading(record, assistant), ""]
        if m.withdrawn:
            out += [f"_{WITHDRAWN_NOTE}_", ""]
        if m.role == "tool":
            out += [code(brief(content_text(m.content, marks=True))), ""]
            continue
        if m.reasoning:
            out += ["> " + line if line else ">" for line in ["**Reasoning**", "", *m.reasoning.strip().splitlines()]]
            out.append("")
        text = content_text(m.content, marks=True).strip()
        if text:
            out += [text, ""]
        for call in m.tool_calls:
            out.append(f"- call {code(f'{call.name}({call.arguments})')}")
        if m.tool_calls:
            out.append("")
        if record.usage:
            u = record.usage
            out += [f"_{u.prompt_tokens} prompt + {u.completion_tokens} completion tokens_", ""]
    return "\n".join(out).rstrip("\n") + "\n"
