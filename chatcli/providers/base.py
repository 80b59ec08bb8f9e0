"""The provider interface: one request in, a stream of typed events out."""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from chatcli.errors import ProviderError
from chatcli.providers.errmap import classify
from chatcli.messages import (
    ChatRequest,
    Event,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
)

if TYPE_CHECKING:
    from chatcli.config import ProviderConfig

MAX_ATTEMPTS = 3
BACKOFF_BASE = 0.5
MAX_RETRY_AFTER = 20.0

Notify = Callable[[str], None]


class Provider(ABC):
    """A chat backend. Subclasses open the call in `_open`; retries happen here."""

    def __init__(self, config: ProviderConfig, notify: Notify | None = None) -> None:
        self.config = config
        self.name = config.name
        self.notify = notify or (lambda _msg: None)

    def thinking_body(self, on: bool) -> dict[str, Any]:
        """Request body fields that turn the model's reasoning on or off."""
        return {}

    @abstractmethod
    def _open(self, request: ChatRequest) -> Iterator[Event]:
        """Send the request; return its events. Raises ProviderError before any byte is read."""

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the events of one model call, retrying failures that happen before the answer."""
        attempt = 1
        while True:
            try:
                events = self._open(request)
                break
            except ProviderError as err:
                delay = retry_delay(err, attempt)
                if delay is None:
                    raise
                self.notify(f"{err.message} — retrying in {delay:.1f} s ({attempt}/{MAX_ATTEMPTS - 1})")
                time.sleep(delay)
                attempt += 1
        yield from events


class SDKProvider(Provider):
    """A provider whose SDK speaks the OpenAI chat-completions shape (openai, zhipuai)."""

    send_stream_options = False
    _client: Any = None
    _key: str | None = None

    @abstractmethod
    def make_client(self, api_key: str, timeout: float) -> Any:
        """A configured SDK client with its own retries off (retries are ours)."""

    @abstractmethod
    def mapped(self, request: ChatRequest, *, mid_stream: bool) -> AbstractContextManager[None]:
        """A context that converts the SDK's exceptions into ProviderError subclasses."""

    @abstractmethod
    def close_stream(self, stream: Any) -> None:
        """Release a stream's connection."""

    def client(self) -> Any:
        """The SDK client, created on first use (resolving the API key then)."""
        if self._client is None:
            self._key = self.config.resolve_api_key()
            self._client = self.make_client(self._key or "not-needed", self.config.timeout)
        return self._client

    def request_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        """The keyword arguments for chat.completions.create."""
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": [m.to_api() for m in request.messages],
            "stream": request.stream,
        }
        if request.stream and self.send_stream_options:
            kwargs["stream_options"] = {"include_usage": True}
        if request.tools:
            kwargs["tools"] = request.tools
        kwargs.update(request.options)
        extra = {**self.config.extra_body, **request.extra_body}
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def _open(self, request: ChatRequest) -> Iterator[Event]:
        client = self.client()
        with self.mapped(request, mid_stream=False):
            result = client.chat.completions.create(**self.request_kwargs(request))
        if not request.stream:
            return iter(list(events_from_completion(result)))
        return self._iterate(request, result)

    def _iterate(self, request: ChatRequest, stream: Any) -> Iterator[Event]:
        asm = ChunkAssembler()
        try:
            with self.mapped(request, mid_stream=True):
                for chunk in stream:
                    yield from asm.feed(chunk)
        finally:
            self.close_stream(stream)
        yield from asm.finish()

    def classify(self, status: int | None, error: dict, request: ChatRequest, headers: Any) -> ProviderError:
        """The ProviderError for a server error object."""
        return classify(
            self.name, status, error, headers=headers, key_env=self.config.api_key_env,
            model=request.model, secret=self._key,
        )


def retry_delay(err: ProviderError, attempt: int) -> float | None:
    """Seconds to wait before trying again, or None if the error should not be retried."""
    if not err.retryable or attempt >= MAX_ATTEMPTS:
        return None
    if err.retry_after is not None:
        if err.retry_after > MAX_RETRY_AFTER:
            return None
        return max(0.0, err.retry_after)
    return BACKOFF_BASE * 2 ** (attempt - 1) * (1 + random.random() / 4)


class ChunkAssembler:
    """Turns OpenAI-shaped stream chunks (openai or zhipuai SDK objects) into events.

    Tool-call fragments are merged by index; an empty-string id or name means "absent"
    (DashScope sends `"id": ""` on continuation deltas). Calls, usage and the finish reason
    are emitted by `finish()`, because usage may arrive after the finish chunk.
    """

    def __init__(self) -> None:
        self.calls: dict[int, ToolCall] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def feed(self, chunk: Any) -> Iterator[Event]:
        usage = getattr(chunk, "usage", None)
        if usage:
            self.usage = usage_from(usage)
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            if delta is not None:
                reasoning = _extra(delta, "reasoning_content")
                if reasoning:
                    yield ReasoningDelta(reasoning)
                if delta.content:
                    yield TextDelta(delta.content)
                for tc in getattr(delta, "tool_calls", None) or []:
                    self._merge(tc)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason

    def _merge(self, tc: Any) -> None:
        index = tc.index if tc.index is not None else len(self.calls)
        call = self.calls.setdefault(index, ToolCall(id="", name=""))
        if tc.id:
            call.id = tc.id
        fn = tc.function
        if fn is not None:
            if fn.name:
                call.name = fn.name
            if fn.arguments:
                call.arguments += fn.arguments

    def finish(self) -> Iterator[Event]:
        for index in sorted(self.calls):
            call = self.calls[index]
            if not call.id:
                call.id = f"call_{index}"
            yield ToolCallEvent(call)
        if self.usage is not None:
            yield UsageEvent(self.usage)
        yield Finish(self.finish_reason)


def events_from_completion(completion: Any) -> Iterator[Event]:
    """Events for a non-streamed completion object (either SDK)."""
    choice = completion.choices[0] if completion.choices else None
    if choice is not None:
        msg = choice.message
        reasoning = _extra(msg, "reasoning_content")
        if reasoning:
            yield ReasoningDelta(reasoning)
        if msg.content:
            yield TextDelta(msg.content)
        for i, tc in enumerate(msg.tool_calls or []):
            yield ToolCallEvent(ToolCall(tc.id or f"call_{i}", tc.function.name, tc.function.arguments or ""))
    if getattr(completion, "usage", None):
        yield UsageEvent(usage_from(completion.usage))
    yield Finish(choice.finish_reason if choice is not None else None)


def usage_from(u: Any) -> Usage:
    """A Usage from an SDK usage object."""
    ptd = getattr(u, "prompt_tokens_details", None)
    ctd = getattr(u, "completion_tokens_details", None)
    return Usage(
        prompt_tokens=u.prompt_tokens or 0,
        completion_tokens=u.completion_tokens or 0,
        total_tokens=u.total_tokens or 0,
        cached_tokens=getattr(ptd, "cached_tokens", None) if ptd else None,
        reasoning_tokens=getattr(ctd, "reasoning_tokens", None) if ctd else None,
    )


def _extra(obj: Any, name: str) -> Any:
    """An attribute that may be declared or only present as a pydantic extra field."""
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return value
