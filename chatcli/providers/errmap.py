"""Classify a provider's error response into the project's error types, with one-line messages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from chatcli.config import secrets
from chatcli.errors import (
    AuthError,
    BadRequestError,
    ContentFilterError,
    ModelNotFoundError,
    NetworkError,
    ProviderError,
    QuotaError,
    RateLimitError,
    ServerError,
)

AUTH_CODES = {"invalid_api_key", "InvalidApiKey", "1000", "1001", "1002", "1003", "1004"}
QUOTA_CODES = {"Arrearage", "Throttling.AllocationQuota", "1113", "1304", "1308", "insufficient_quota"}
FREE_TIER_CODES = {"AllocationQuota.FreeTierOnly"}  # 403, but the key is fine: the free tier is used up
FILTER_CODES = {"data_inspection_failed", "DataInspectionFailed", "1301", "content_filter"}
MODEL_CODES = {"model_not_found", "ModelNotFound", "1211"}
URL_ERROR_CODES = {"InvalidParameter"}  # with "url error": the model lives on the other native endpoint
RATE_CODES = {"limit_requests", "Throttling", "Throttling.RateQuota", "1302", "1303", "1305", "rate_limit_exceeded"}

# Where servers put the id of a call: DashScope's body `request_id`, Zhipu's `id`, these headers.
REQUEST_ID_HEADERS = ("x-request-id", "x-dashscope-request-id", "request-id", "x-acs-request-id")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
MAX_MESSAGE = 300


def parse_error_body(body: Any) -> dict[str, Any]:
    """The error object from a JSON body, an SSE-framed body (`data: {...}`) or a native one.

    A request id beside the error object (`request_id`, Zhipu's `id`) is copied into it as `request_id`.
    """
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body.strip()
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("data:"):
                text = line[5:].strip()
                break
        try:
            body = json.loads(text)
        except ValueError:
            return {"message": text} if text else {}
    if not isinstance(body, Mapping):
        return {}
    inner = body.get("error", body)
    if isinstance(inner, str):
        error: dict[str, Any] = {"message": inner}
    elif isinstance(inner, Mapping):
        error = dict(inner)
    else:
        return {}
    outer_id = body.get("request_id") or (body.get("id") if inner is not body else None)
    if outer_id and not error.get("request_id"):
        error["request_id"] = outer_id
    return error


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Collapse whitespace and control characters; shorten to `limit` characters."""
    text = _CONTROL.sub(" ", text).strip()
    text = re.sub(r"\s{2,}", " ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def classify(
    provider: str,
    status: int | None,
    error: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    key_env: str | None = None,
    model: str = "",
    secret: str | None = None,
) -> ProviderError:
    """The ProviderError for an HTTP status (None mid-stream) and the server's error object.

    Every field of the object (code, type, param, message, nested ones) is redacted first: the
    request's key (`secret`) and every other key the process knows are hidden.
    """
    secrets.remember(secret)
    error = secrets.redact_data(error)
    code = error.get("code")
    code = one_line(str(code), 80) if code not in (None, "") else None
    etype = error.get("type") if isinstance(error.get("type"), str) else None
    message = error.get("message") or ""
    server_msg = one_line(message if isinstance(message, str) else json.dumps(message, ensure_ascii=False))
    keys = {code, etype}

    hint = ""
    cls: type[ProviderError]
    if keys & FREE_TIER_CODES:
        what, cls = f"the free tier of {_model(model)} is used up", QuotaError
        hint = "; enable paid use (turn off 'free tier only') in the DashScope console"
    elif keys & AUTH_CODES or status in (401, 403):
        what, cls = ("access denied" if status == 403 else "authentication failed"), AuthError
        hint = f"; check {key_env}" if key_env else ""
    elif "Throttling.AllocationQuota" in keys:
        what, cls = "quota used up, not a rate limit", QuotaError
    elif keys & QUOTA_CODES:
        what, cls = "account in arrears or quota exhausted", QuotaError
    elif keys & FILTER_CODES:
        what, cls = "refused by the provider's content filter", ContentFilterError
    elif keys & MODEL_CODES or status == 404:
        what, cls = f"model '{model}' not found", ModelNotFoundError
    elif keys & URL_ERROR_CODES and "url error" in server_msg.lower():
        what, cls = f"{_model(model)} is not served on this endpoint", BadRequestError
    elif status == 429 or keys & RATE_CODES:
        what, cls = "rate limited", RateLimitError
    elif status is not None and status >= 500:
        what, cls = "server error", ServerError
    elif status is None:
        what, cls = "error during the answer", ProviderError
    else:
        what, cls = "request rejected", BadRequestError

    tag = ", ".join(x for x in (f"HTTP {status}" if status else None, code) if x)
    rid = request_id(error, headers)
    msg = f"{provider}: {what}" + (f" ({tag})" if tag else "") + (f": {server_msg}" if server_msg else "") + hint
    msg += f" (request_id {rid})" if rid else ""
    return cls(msg, provider=provider, status=status, code=code, retry_after=_retry_after(headers), request_id=rid)


def request_id(error: Mapping[str, Any], headers: Mapping[str, str] | None) -> str | None:
    """The server's id of the failed call: the (redacted) error object's `request_id`, else a header."""
    value = error.get("request_id") or error.get("requestId")
    if not value and headers:
        lowered = {str(k).lower(): v for k, v in headers.items()}
        value = next((lowered[h] for h in REQUEST_ID_HEADERS if lowered.get(h)), None)
    if not value or not isinstance(value, str | int):
        return None
    return one_line(secrets.redact(str(value)), 100)


def unexpected(provider: str, exc: BaseException) -> ProviderError:
    """A ProviderError for an answer the SDK or parser could not make sense of."""
    return ProviderError(f"{provider}: unexpected response: {one_line(str(exc), 200)}", provider=provider)


def network_error(provider: str, base_url: str | None, exc: BaseException, *, mid_stream: bool) -> NetworkError:
    """A NetworkError for a transport failure, one line; mid-stream failures are not retried.

    `qwen: cannot connect to 127.0.0.1:9 (connection refused); check your network or providers.qwen.base_url`
    """
    timed_out = "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower()
    host = _host(base_url)
    if mid_stream:
        what = "the answer stopped: " + ("read timed out" if timed_out else "connection lost mid-stream")
    elif timed_out:
        what = f"request to {host} timed out; check your network or providers.{provider}.timeout"
    else:
        reason = _root_reason(exc)
        what = (f"cannot connect to {host}" + (f" ({reason})" if reason else "")
                + f"; check your network or providers.{provider}.base_url")
    err = NetworkError(f"{provider}: {what}", provider=provider)
    if mid_stream:
        err.retryable = False
    return err


def _host(base_url: str | None) -> str:
    """`host:port` of a base URL (no scheme, path or credentials), or the URL itself if it does not parse."""
    if not base_url:
        return "the server"
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return one_line(base_url, 100)
    if not host:
        return one_line(base_url, 100)
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


@contextmanager
def upload_errors(provider: str, name: str) -> Iterator[None]:
    """Say which file an upload error is about; a 404 there means no files API, not a missing model."""
    try:
        yield
    except ProviderError as err:
        if isinstance(err, ModelNotFoundError) and err.status == 404:
            new: ProviderError = BadRequestError(f"{provider}: the server has no files API (HTTP 404)",
                                                 provider=provider, status=404, code=err.code,
                                                 request_id=err.request_id)
        else:
            new = type(err)(err.message, provider=err.provider, status=err.status, code=err.code,
                            retry_after=err.retry_after, request_id=err.request_id)
            new.retryable = err.retryable
        amend(new, f" (uploading {name})")
        raise new from None


def amend(err: ProviderError, note: str) -> None:
    """Add `note` to the error's line, keeping its `(request_id ...)` last."""
    rid = f" (request_id {err.request_id})" if err.request_id else ""
    err.message = err.message.removesuffix(rid) + note + rid
    err.args = (err.message,)


def _model(model: str) -> str:
    return f"model '{model}'" if model else "this model"


# What the innermost OS or TLS error says, in a few words (errno text differs between libc and OS).
_REASONS = (
    ("refused", "connection refused"),
    ("name or service not known", "host not found"),
    ("nodename nor servname", "host not found"),
    ("no address associated", "host not found"),
    ("getaddrinfo failed", "host not found"),
    ("temporary failure in name resolution", "name lookup failed"),
    ("network is unreachable", "network unreachable"),
    ("no route to host", "no route to host"),
    ("connection reset", "connection reset"),
    ("certificate verify failed", "TLS certificate not trusted"),
    ("wrong version number", "TLS handshake failed: does the server speak http, not https?"),
)
_CERT_DETAIL = re.compile(r"certificate verify failed: ([^(]+)", re.IGNORECASE)


def _root_reason(exc: BaseException) -> str:
    """The innermost cause's text, which names the real problem (refused, DNS...), in a few words."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    text = one_line(str(seen), 160)
    lowered = text.lower()
    for needle, reason in _REASONS:
        if needle in lowered:
            detail = _CERT_DETAIL.search(text) if "certificate" in needle else None
            return f"{reason}: {detail.group(1).strip()}" if detail else reason
    if text in ("Connection error.", ""):
        return ""
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
