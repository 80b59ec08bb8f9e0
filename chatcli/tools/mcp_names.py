"""What MCP tools look like to a provider: names every provider takes, schemas without what some reject.

No `mcp` import here: chatcli.tools.mcp_client hands over plain names, dicts and strings.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

NAME_MAX = 64
SEPARATOR = "__"
MAX_RESULT = 32 * 1024  # characters of one result sent to the model
_BAD = re.compile(r"[^a-zA-Z0-9_-]+")
# Keywords some providers (Gemini-backed and strict OpenAI-compatible ones, Zhipu) refuse in a tool schema.
_DROPPED = frozenset({"$schema", "$id", "$comment", "format", "examples", "title", "readOnly",
                      "writeOnly", "deprecated", "contentMediaType", "contentEncoding"})


def wire_name(server: str, tool: str, taken: Iterable[str] = ()) -> str:
    """`server__tool` as ^[a-zA-Z0-9_-]{1,64}$, made unique among taken with a short hash of the real name."""
    name = _BAD.sub("_", f"{server}{SEPARATOR}{tool}").strip("_") or "tool"
    used = set(taken)
    if len(name) <= NAME_MAX and name not in used:
        return name
    digest = hashlib.sha1(f"{server}\0{tool}".encode()).hexdigest()
    for n in range(6, 41):
        candidate = f"{name[:NAME_MAX - n - 1]}_{digest[:n]}"
        if candidate not in used:
            return candidate
    raise ValueError(f"no unique name for {server}/{tool}")  # pragma: no cover (sha1 collision)


def allowed(tool: str, allow: list[str] | None, deny: list[str]) -> bool:
    """Whether a tool passes the server's allow and deny globs (deny wins; no allow list allows all)."""
    if any(fnmatch.fnmatchcase(tool, pattern) for pattern in deny):
        return False
    return allow is None or any(fnmatch.fnmatchcase(tool, pattern) for pattern in allow)


def clean_schema(schema: Any) -> dict[str, Any]:
    """A tool's input schema as an object schema without the keywords some providers reject.

    Conservative: only annotations are dropped (they change no call the model can make), plus
    `additionalProperties` that is not a plain boolean; `$ref`s into `$defs` are kept as they are.
    """
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    cleaned = _clean(schema)
    cleaned["type"] = "object"
    if not isinstance(cleaned.get("properties"), dict):
        cleaned["properties"] = {}
    return cleaned


def _clean(node: Any) -> Any:
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "additionalProperties" and not isinstance(value, bool):
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _clean(sub) for name, sub in value.items()}  # names, not keywords: kept
        else:
            out[key] = _clean(value)
    return out


def capped(text: str, limit: int = MAX_RESULT) -> str:
    """The text, or its first limit characters with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[output cut: {len(text) - limit:,} more characters not shown]"


def result_text(texts: list[str], structured: Any, notes: list[str]) -> str:
    """One result for the model: the text parts joined, else the structured content as JSON; notes after."""
    parts = ["\n".join(texts)] if texts else []
    if not texts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    parts += notes
    return capped("\n".join(parts))


def schema_tokens(schema: dict[str, Any]) -> int:
    """A rough estimate of the tokens a tool's schema costs in every request (4 characters a token)."""
    return max(1, len(json.dumps(schema, ensure_ascii=False, separators=(",", ":"))) // 4)
