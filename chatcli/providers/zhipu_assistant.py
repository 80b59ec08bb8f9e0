"""Zhipu assistants (智能体, glm-4-assistant): the request and the answer's stream as typed events.

An assistant keeps the history itself under a `conversation_id`, so each call sends only the new
user message. Its answer streams AssistantCompletion chunks: `choices[].delta` is either text
(`type: "content"`) or the assistant's own tool steps (`type: "tool_calls"`: web_browser,
retrieval, drawing_tool, code_interpreter, function), each sent once with its input and again
with its outputs. Text becomes TextDelta; a finished step becomes one dim Notice line
(`assistant web_browser: "cogvideox" → 3 results`); `status: "completed"` or a finish reason ends it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from chatcli.core.messages import (
    ChatRequest,
    Event,
    Finish,
    Message,
    Notice,
    TextDelta,
    Usage,
    UsageEvent,
    content_text,
)
from chatcli.providers.chunks import text_of, usage_from
from chatcli.providers.errmap import one_line

if TYPE_CHECKING:
    from chatcli.core.options import GenerationOptions

ASSISTANT_MODEL = "glm-4-assistant"
STEP_KINDS = ("web_browser", "retrieval", "drawing_tool", "code_interpreter", "function")
LINE = 100  # characters of a tool step's input or result shown


def conversation_kwargs(assistant_id: str, request: ChatRequest, conversation_id: str | None) -> dict[str, Any]:
    """The arguments of `client.assistant.conversation`: only the last user turn (no tools: ours are not offered)."""
    kwargs: dict[str, Any] = {
        "assistant_id": assistant_id,
        "model": ASSISTANT_MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": last_user_text(request.messages)}]}],
        "stream": True,  # the assistant API streams only
    }
    if conversation_id:
        kwargs["conversation_id"] = conversation_id
    return kwargs


def last_user_text(messages: list[Message]) -> str:
    """The whole text of the last user message (other parts, e.g. images, are not sent to an assistant)."""
    for message in reversed(messages):
        if message.role == "user":
            return content_text(message.content)
    return ""


def unsent_options(opts: GenerationOptions | None) -> list[str]:
    """The generation options set that an assistant call cannot carry (it takes none)."""
    if opts is None:
        return []
    names = list(opts.sampling())
    names += [name for name in ("search", "think") if getattr(opts, name) is not None]
    return names + (["json_object"] if opts.json_object else [])


def chunk_problem(chunk: Any) -> str | None:
    """What makes an SDK chunk not an AssistantCompletion, or None."""
    if chunk is None or isinstance(chunk, (list, str, int, float, bool)) or not hasattr(chunk, "choices"):
        return "not an assistant completion"
    if chunk.choices is not None and not isinstance(chunk.choices, list):
        return "`choices` is not a list"
    for choice in chunk.choices or []:
        if not hasattr(choice, "delta"):
            return "a choice is not an object"
    return None


class AssistantAssembler:
    """Turns AssistantCompletion chunks into events; usage and the finish reason come from `finish()`.

    A tool step is shown once, when its outputs arrive; steps still without outputs are shown at the end.
    """

    def __init__(self) -> None:
        self.conversation_id: str | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.error: dict[str, Any] | None = None  # `last_error` of a `status: "failed"` chunk
        self.anything = False
        self._pending: dict[str, Any] = {}  # kind -> the step block seen without outputs

    def feed(self, chunk: Any) -> Iterator[Event]:
        """Events for one chunk; TypeError for a field of the wrong type (see chatcli.providers.integrity)."""
        cid = text_of(getattr(chunk, "conversation_id", None), "conversation_id")
        if cid:
            self.conversation_id = cid
        if getattr(chunk, "usage", None):
            self.usage = usage_from(chunk.usage)
        for choice in chunk.choices or []:
            delta = choice.delta
            content = text_of(getattr(delta, "content", None), "delta.content") if delta is not None else ""
            if content:
                self.anything = True
                yield from self._flush()
                yield TextDelta(content)
            for block in (getattr(delta, "tool_calls", None) or []) if delta is not None else []:
                self.anything = True
                yield from self._step(block)
            reason = text_of(getattr(choice, "finish_reason", None), "finish_reason")
            if reason:
                self.finish_reason = reason
        status = text_of(getattr(chunk, "status", None), "status")
        if status == "failed":
            error = getattr(chunk, "last_error", None)
            self.error = {"code": _get(error, "code"), "message": _get(error, "message") or "the assistant failed"}
        elif status == "completed" and self.finish_reason is None:
            self.finish_reason = "stop"

    def _step(self, block: Any) -> Iterator[Event]:
        kind = _get(block, "type")
        kind = kind if isinstance(kind, str) else next((k for k in STEP_KINDS if _get(block, k) is not None), "tool")
        if _get(_get(block, kind), "outputs"):
            self._pending.pop(kind, None)
            yield Notice(step_line(kind, _get(block, kind)))
        else:
            self._pending[kind] = _merged(self._pending.get(kind), _get(block, kind))

    def _flush(self) -> Iterator[Event]:
        pending, self._pending = self._pending, {}
        for kind, body in pending.items():
            yield Notice(step_line(kind, body))

    def finish(self) -> Iterator[Event]:
        yield from self._flush()
        if self.usage is not None:
            yield UsageEvent(self.usage)
        yield Finish(self.finish_reason)


def step_line(kind: str, body: Any) -> str:
    """One line for an assistant's tool step: what it was given and, shortened, what it found."""
    outputs = list(_get(body, "outputs") or [])
    given = _GIVEN.get(kind, _input)(body)
    result = _RESULTS.get(kind, lambda _o: "")(outputs) if outputs else "no result"
    head = f"assistant {kind}" + (f": {_quoted(given, kind)}" if given else "")
    return one_line(f"{head} → {result}" if result else head, 2 * LINE)


def _input(body: Any) -> str:
    return _text(_get(body, "input"))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _errors(outputs: list[Any]) -> list[str]:
    return [_first_line(_text(_get(o, "error_msg"))) for o in outputs if _get(o, "error_msg")]


def _web_results(outputs: list[Any]) -> str:
    found = [o for o in outputs if not _get(o, "error_msg")]
    return _plural(len(found), "result") if found else _errors(outputs)[0]


def _passages(outputs: list[Any]) -> str:
    docs = sorted({_text(_get(o, "document")) for o in outputs if _get(o, "document")})
    return _plural(len(outputs), "passage") + (f" ({', '.join(docs)})" if docs else "")


def _images(outputs: list[Any]) -> str:
    return ", ".join(_text(_get(o, "image")) for o in outputs if _get(o, "image")) or "no image"


def _code_output(outputs: list[Any]) -> str:
    logs = next((_first_line(_text(_get(o, "logs"))) for o in outputs if _get(o, "logs")), "")
    errors = _errors(outputs)
    return logs or (f"error: {errors[0]}" if errors else "no output")


def _function_output(outputs: list[Any]) -> str:
    return next((_first_line(_text(_get(o, "content"))) for o in outputs if _get(o, "content")), "")


_GIVEN = {  # what a step was given, shown in quotes (code is too long for one line)
    "code_interpreter": lambda body: "",
    "retrieval": lambda body: "",
    "function": lambda body: f"{_text(_get(body, 'name'))}({_text(_get(body, 'arguments'))})",
}
_RESULTS = {
    "web_browser": _web_results,
    "retrieval": _passages,
    "drawing_tool": _images,
    "code_interpreter": _code_output,
    "function": _function_output,
}


def _quoted(given: str, kind: str) -> str:
    short = one_line(given, LINE // 2 if kind == "function" else LINE)
    return short if kind == "function" else f'"{short}"'


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return one_line(lines[0], LINE) if lines else ""


def _merged(old: Any, new: Any) -> Any:
    """A step seen again without outputs: the newer block wins unless it lost the input."""
    return old if new is None or (old is not None and not _get(new, "input")) else new


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _get(obj: Any, name: str) -> Any:
    """A field of an SDK object (declared or extra) or a dict; None when absent."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        value = (getattr(obj, "model_extra", None) or {}).get(name)
    return value
