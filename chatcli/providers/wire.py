"""Request-building helpers the adapters share: wire messages, the JSON-mode hint, DashScope's switches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatcli.core.messages import FILEID_PART, Message, content_text
from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.core.options import GenerationOptions

JSON_HINT = "Reply with one JSON object."
WITHDRAWN_PLACEHOLDER = "(answer withdrawn by the provider's safety review)"


def api_messages(messages: list[Message], *, send_withdrawn: bool = False) -> list[dict[str, Any]]:
    """The messages to send, as dicts; a user message's `fileid` parts become the system message
    `fileid://ID[,fileid://ID...]` just before it, which is how DashScope's qwen-long reads documents.

    An answer the provider's safety review withdrew is sent as a placeholder (so roles still alternate),
    unless send_withdrawn: the user asked to send its text again.
    """
    out = []
    for m in messages:
        d = m.to_api()
        if m.withdrawn and m.role == "assistant" and not send_withdrawn:
            d["content"] = WITHDRAWN_PLACEHOLDER
        parts = d["content"] if isinstance(d["content"], list) else []
        refs = [p for p in parts if isinstance(p, dict) and p.get("type") == FILEID_PART]
        if refs:
            out.append({"role": "system", "content": ",".join(f"fileid://{p.get('file_id')}" for p in refs)})
            rest = [p for p in parts if p not in refs]
            only_text = len(rest) == 1 and isinstance(rest[0], dict) and rest[0].get("type") == "text"
            d["content"] = rest[0].get("text", "") if only_text else rest
        out.append(d)
    return out


def is_dashscope(base_url: str | None) -> bool:
    """Whether an OpenAI-compatible base URL is DashScope's compatible mode."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url or "")
    return (parts.hostname or "").endswith("aliyuncs.com") or "/compatible-mode/" in parts.path + "/"


def check_dashscope(name: str, opts: GenerationOptions) -> None:
    """DashScope's own limit beyond the common ones: top_p below 1 ("取值不要大于等于1")."""
    if opts.top_p is not None and opts.top_p >= 1:
        raise UsageError(f"{name}: DashScope takes --top-p in (0, 1), not {opts.top_p:g}")


def dashscope_switches(opts: GenerationOptions) -> dict[str, Any]:
    """enable_search / enable_thinking, where set (extra_body in compatible mode, parameters natively)."""
    out: dict[str, Any] = {}
    if opts.search is not None:
        out["enable_search"] = opts.search
    if opts.think is not None:
        out["enable_thinking"] = opts.think
    return out


def with_json_hint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The wire messages, with a system hint added if none mentions JSON.

    DashScope and OpenAI refuse `response_format: json_object` unless the word "json" appears
    in the messages; the hint goes into this request only, never into the saved history.
    """
    if any("json" in content_text(m.get("content")).lower() for m in messages):
        return messages
    if messages and messages[0].get("role") == "system" and isinstance(messages[0].get("content"), str):
        first = {**messages[0], "content": f"{messages[0]['content']}\n\n{JSON_HINT}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": JSON_HINT}, *messages]

