"""Is what came back what was asked for? Content types, the shapes of chunks and completions, cut streams.

A 200 answer can still be wrong: a captive portal's HTML page, a proxy's plain text, JSON of another
shape, or a stream that stops without its finish reason. Each is one line that says what came back.
"""

from __future__ import annotations

import json
from typing import Any

from chatcli.errors import BadResponseError, NetworkError
from chatcli.providers.errmap import one_line

SSE, JSON = "sse", "json"
PEEK = 120  # characters of an unexpected body shown to the user


def body_kind(provider: str, base_url: str | None, response: Any) -> str:
    """SSE or JSON, from a streaming request's response headers; BadResponseError (response closed) otherwise."""
    ctype = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
    if not ctype or ctype == "text/event-stream":
        return SSE
    if ctype == "application/json" or ctype.endswith("+json"):
        return JSON
    try:
        first = next(iter(response.iter_bytes()), b"")
    except Exception:  # a body that cannot be read says nothing more
        first = b""
    finally:
        response.close()
    raise not_asked(provider, base_url, f"{ctype}, not an event stream", first)


def read_json(provider: str, base_url: str | None, response: Any) -> Any:
    """A whole response body as JSON (the response is closed); BadResponseError if it does not parse."""
    try:
        raw = response.read()
    finally:
        response.close()
    try:
        return json.loads(raw)
    except ValueError:
        ctype = (response.headers.get("content-type") or "no content type").split(";")[0]
        raise not_asked(provider, base_url, f"{ctype} that is not JSON", raw) from None


def not_asked(provider: str, base_url: str | None, what: str, body: bytes | str | None = None) -> BadResponseError:
    """The error for a 200 answer that is not what was asked for: what it was, its first bytes, where to look."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    peek = f": {one_line(body, PEEK)!r}" if body and body.strip() else ""
    where = f" ({base_url})" if base_url else ""
    return BadResponseError(f"{provider}: the server answered {what}{peek}; check base_url{where}", provider=provider)


def brief(obj: Any) -> str:
    """Something the server sent, as short JSON text."""
    try:
        if hasattr(obj, "model_dump"):
            obj = obj.model_dump(mode="json", warnings=False, exclude_unset=True)
        return json.dumps(obj, ensure_ascii=False, default=str)
    except Exception:
        return repr(obj)


def chunk_problem(chunk: Any) -> str | None:
    """What makes an SDK stream chunk not a chat completion chunk, or None (its fields' types are the
    assembler's to check: it raises TypeError, which `unreadable` reports)."""
    if chunk is None or isinstance(chunk, (list, str, int, float, bool)) or not hasattr(chunk, "choices"):
        return "not a chat completion chunk"
    if chunk.choices is not None and not isinstance(chunk.choices, list):
        return "`choices` is not a list"
    for choice in chunk.choices or []:
        if not hasattr(choice, "finish_reason"):
            return "a choice is not an object"
        if getattr(choice, "delta", None) is not None and not hasattr(choice.delta, "content"):
            return "`delta` is not an object"
    return None


def completion_problem(completion: Any) -> str | None:
    """What makes an SDK completion object not a chat completion, or None (see chunk_problem)."""
    if completion is None or isinstance(completion, (list, str, int, float, bool)) \
            or not hasattr(completion, "choices"):
        return "not a chat completion"
    if not isinstance(completion.choices, list):
        return "`choices` is not a list"
    for choice in completion.choices:
        if not hasattr(getattr(choice, "message", None), "content"):
            return "`message` is not an object"
    return None


UNREADABLE = (AttributeError, TypeError, KeyError, IndexError, ValueError)  # what reading a wrong field raises


def unreadable(provider: str, base_url: str | None, exc: BaseException, sent: Any) -> BadResponseError:
    """The error for data the assembler could not read (a field of the wrong type)."""
    return wrong_shape(provider, base_url, one_line(str(exc), 80), sent)


def wrong_shape(provider: str, base_url: str | None, problem: str, sent: Any) -> BadResponseError:
    """The error for data of the wrong shape inside a 200 answer."""
    return not_asked(provider, base_url, f"data of another shape ({problem})", brief(sent))


def cut_off(provider: str, anything: bool) -> NetworkError:
    """The error for a stream that ended without a finish reason (never retried: the answer had begun)."""
    what = ("the answer was cut off: the stream ended without a finish reason" if anything
            else "the server sent an empty answer: the stream ended with no text and no finish reason")
    err = NetworkError(f"{provider}: {what}", provider=provider)
    err.retryable = False
    return err


def native_problem(payload: Any) -> str | None:
    """What makes a DashScope native event or body not a generation result, or None if it is one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("output"), dict):
        return "not a generation result"
    choices = payload["output"].get("choices")
    if choices is None:
        return None if isinstance(payload["output"].get("text", ""), str) else "`output.text` is not text"
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        return "`output.choices` is not a list of objects"
    for choice in choices:
        message = choice.get("message", {})
        if not isinstance(message, dict):
            return "`message` is not an object"
        if not isinstance(message.get("content"), (str, list, type(None))):
            return "`message.content` is not text"
        calls = message.get("tool_calls")
        if calls is not None and not (isinstance(calls, list) and all(isinstance(c, dict) for c in calls)):
            return "`message.tool_calls` is not a list of calls"
    return None
