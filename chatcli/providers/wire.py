"""Request-building helpers the adapters share: wire messages, the JSON-mode hint, DashScope's and Zhipu's rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chatcli.core.messages import FILEID_PART, Message, content_text
from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.core.options import GenerationOptions

JSON_HINT = "Reply with one JSON object."
WITHDRAWN_PLACEHOLDER = "(answer withdrawn by the provider's safety review)"
# Zhipu's built-in web search; search_result asks for the sources (a top-level `web_search` list).
WEB_SEARCH_TOOL = {"type": "web_search", "web_search": {"enable": True, "search_result": True}}


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
    host, path = _split(base_url)
    return _on(host, "aliyuncs.com") or "/compatible-mode/" in path


def is_zhipu(base_url: str | None) -> bool:
    """Whether an OpenAI-compatible base URL is Zhipu's (open.bigmodel.cn, api.z.ai: `.../api/paas/v4`)."""
    host, path = _split(base_url)
    return _on(host, "bigmodel.cn") or _on(host, "z.ai") or "/paas/v4/" in path


def _split(base_url: str | None) -> tuple[str, str]:
    """A base URL's host name and its path with a trailing slash."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url or "")
    return (parts.hostname or "").lower(), parts.path.rstrip("/") + "/"


def _on(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def check_dashscope(name: str, opts: GenerationOptions, *, compatible: bool = False) -> None:
    """DashScope's own limits beyond the common ones: top_p below 1 ("取值不要大于等于1"), and in compatible
    mode thinking only when streaming (a 400 otherwise; the native protocol answers it unstreamed)."""
    if opts.top_p is not None and opts.top_p >= 1:
        raise UsageError(f"{name}: DashScope takes --top-p in (0, 1), not {opts.top_p:g}")
    if compatible and opts.think and opts.stream is False:
        raise UsageError(f"{name}: DashScope's compatible mode says thinking needs streaming: drop --no-stream "
                         f"(or add --no-think); kind = \"dashscope\" (the native protocol) answers it unstreamed")


def needs_stream_hint(error: Mapping[str, Any]) -> str:
    """A hint for a server's refusal of an unstreamed request with thinking on ("" for any other error).

    DashScope says "parameter.enable_thinking must be set to false for non-streaming calls", or
    "This model only support stream mode, please enable the stream parameter" (models that always think).
    """
    message = str(error.get("message") or "").lower()
    if "stream" in message and ("thinking" in message or "stream mode" in message or "non-stream" in message):
        return "; this model thinks and answers only when streaming: drop --no-stream (or add --no-think)"
    return ""


def dashscope_switches(opts: GenerationOptions) -> dict[str, Any]:
    """enable_search / enable_thinking, where set (extra_body in compatible mode, parameters natively)."""
    out: dict[str, Any] = {}
    if opts.search is not None:
        out["enable_search"] = opts.search
    if opts.think is not None:
        out["enable_thinking"] = opts.think
    return out


def check_zhipu(name: str, opts: GenerationOptions) -> None:
    """Zhipu's own limit beyond the common ones: no presence_penalty."""
    if opts.presence_penalty is not None:
        raise UsageError(f"{name}: Zhipu (GLM) does not take presence_penalty; drop --presence-penalty "
                         f"(or presence_penalty in [providers.{name}])")


def zhipu_fields(name: str, opts: GenerationOptions, kwargs: dict[str, Any], tell: Callable[[str], None]) -> dict:
    """Fit create()'s kwargs to Zhipu (zhipuai SDK or its OpenAI-compatible endpoint); the body fields to add.

    Temperature and top_p go in (0, 1), said rather than clamped silently as the zhipuai SDK would
    (temperature 0 becomes do_sample=false); --search adds the web_search tool; the fields returned
    (do_sample, thinking) are create() arguments of the zhipuai SDK and extra_body for the openai SDK.
    """
    kwargs.pop("presence_penalty", None)  # check_zhipu refuses it
    out: dict[str, Any] = {}
    temperature = kwargs.get("temperature")
    if temperature is not None and temperature <= 0:
        del kwargs["temperature"]
        out["do_sample"] = False
        tell(f"{name}: Zhipu takes temperature in (0, 1); 0 is sent as do_sample=false (greedy)")
    elif temperature is not None and temperature >= 1:
        kwargs["temperature"] = 0.99
        tell(f"{name}: Zhipu takes temperature in (0, 1); sent 0.99 instead of {temperature:g}")
    top_p = kwargs.get("top_p")
    if top_p is not None and top_p >= 1:
        kwargs["top_p"] = 0.99
        tell(f"{name}: Zhipu takes top_p in (0, 1); sent 0.99 instead of {top_p:g}")
    if opts.think is not None:
        out["thinking"] = {"type": "enabled" if opts.think else "disabled"}
    if opts.search:
        kwargs["tools"] = [*(kwargs.get("tools") or []), WEB_SEARCH_TOOL]
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

