"""The provider interface: one request in, a stream of typed events out."""

from __future__ import annotations

import queue
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from chatcli.core.messages import (
    ChatRequest,
    Event,
    Finish,
    ReasoningDelta,
    Sources,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
)
from chatcli.errors import (
    BadRequestError,
    ModelNotFoundError,
    ProviderError,
    UsageError,
)
from chatcli.providers.capabilities import NO_DOCUMENTS, Capabilities, UploadedDocument
from chatcli.providers.errmap import classify
from chatcli.providers.wire import api_messages

if TYPE_CHECKING:
    from chatcli.config import ProviderConfig
    from chatcli.core.options import GenerationOptions

MAX_ATTEMPTS = 3
BACKOFF_BASE = 0.5
MAX_RETRY_AFTER = 20.0

Notify = Callable[[str], None]
T = TypeVar("T")


class Provider(ABC):
    """A chat backend. Subclasses open the call in `_open`; retries happen here."""

    def __init__(self, config: ProviderConfig, notify: Notify | None = None) -> None:
        self.config = config
        self.name = config.name
        self.notify = notify or (lambda _msg: None)
        self._told: set[str] = set()
        self._closer: Callable[[], None] | None = None  # closes the answer being read

    def check_options(self, opts: GenerationOptions) -> None:
        """Raise UsageError for generation options this provider cannot honour (before anything is sent)."""

    def capabilities(self, model: str) -> Capabilities:
        """Which images, video frames and documents this provider takes with `model`."""
        return Capabilities()

    def upload_document(self, path: Path, model: str) -> UploadedDocument:
        """Upload a document for `model` to read, retrying like a model call (see chatcli.app.attachments)."""
        return self.retrying(lambda: self._upload(path, model))

    def retrying(self, attempt_once: Callable[[], T]) -> T:
        """The result of attempt_once, tried again (with a notice) after retryable failures."""
        attempt = 1
        while True:
            try:
                return attempt_once()
            except ProviderError as err:
                delay = retry_delay(err, attempt)
                if delay is None:
                    raise
                self.notify(f"{err.message} — retrying in {delay:.1f} s ({attempt}/{MAX_ATTEMPTS - 1})")
                time.sleep(delay)
                attempt += 1

    def _upload(self, path: Path, model: str) -> UploadedDocument:
        """One upload attempt; providers that read documents override this."""
        raise UsageError(f"{self.name}: cannot read {path.name}: {NO_DOCUMENTS}")

    @contextmanager
    def uploading(self, name: str) -> Iterator[None]:
        """Say which file an upload error is about; a 404 there means no files API, not a missing model."""
        try:
            yield
        except OSError as e:
            raise UsageError(f"cannot read {name}: {e.strerror or e}") from None
        except ProviderError as err:
            if isinstance(err, ModelNotFoundError) and err.status == 404:
                new: ProviderError = BadRequestError(f"{self.name}: the server has no files API (HTTP 404)",
                                                     provider=self.name, status=404, code=err.code)
            else:
                new = type(err)(err.message, provider=err.provider, status=err.status, code=err.code,
                                retry_after=err.retry_after)
                new.retryable = err.retryable
            new.message = f"{new.message} (uploading {name})"
            new.args = (new.message,)
            raise new from None

    def tell_once(self, message: str) -> None:
        """A notice shown once per provider object (once per `chat ask`, once per REPL session)."""
        if message not in self._told:
            self._told.add(message)
            self.notify(message)

    @abstractmethod
    def _open(self, request: ChatRequest) -> Iterator[Event]:
        """Send the request; return its events. Raises ProviderError before any byte is read."""

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the events of one model call, retrying failures that happen before the answer.

        The network is read in a worker thread while this thread waits in short timed steps: a
        Ctrl-C that lands just before a blocking read would otherwise wait for the next byte.
        """
        if request.generation is not None:
            self.check_options(request.generation)
        yield from pumped(self._stream(request), self.abort)

    def reading(self, closer: Callable[[], None]) -> None:
        """Register how to close the answer now being read (see abort)."""
        self._closer = closer

    def abort(self) -> None:
        """Close the answer being read, so the server stops generating; never blocks the caller."""
        closer, self._closer = self._closer, None
        if closer is not None:
            threading.Thread(target=_quietly, args=(closer,), name="abort", daemon=True).start()

    def _stream(self, request: ChatRequest) -> Iterator[Event]:
        yield from self.retrying(lambda: self._open(request))


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
            "messages": api_messages(request.messages),
            "stream": request.stream,
        }
        if request.stream and self.send_stream_options:
            kwargs["stream_options"] = {"include_usage": True}
        if request.tools:
            kwargs["tools"] = request.tools
        extra = dict(self.config.extra_body)
        if request.generation is not None:
            self.apply_options(request.generation, kwargs, extra)
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def apply_options(self, opts: GenerationOptions, kwargs: dict[str, Any], extra: dict[str, Any]) -> None:
        """Put generation options into create()'s kwargs and extra_body (subclasses add their own)."""
        from chatcli.providers.wire import with_json_hint

        kwargs.update(opts.sampling())
        if opts.json_object:
            kwargs["response_format"] = {"type": "json_object"}
            kwargs["messages"] = with_json_hint(kwargs["messages"])

    def _open(self, request: ChatRequest) -> Iterator[Event]:
        client = self.client()
        with self.mapped(request, mid_stream=False):
            result = client.chat.completions.create(**self.request_kwargs(request))
        if not request.stream:
            return iter(list(events_from_completion(result)))
        return self._iterate(request, result)

    def _iterate(self, request: ChatRequest, stream: Any) -> Iterator[Event]:
        asm = ChunkAssembler()
        self.reading(lambda: self.close_stream(stream))
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


_END = object()


def pumped(events: Iterator[Event], abort: Callable[[], None]) -> Iterator[Event]:
    """The events, produced by a worker thread; on Ctrl-C (or early close) the answer is aborted."""
    box: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        try:
            for event in events:
                box.put((event, None))
            box.put((_END, None))
        except BaseException as exc:  # handed over: the reading thread raises it
            box.put((_END, exc))

    worker = threading.Thread(target=work, name="model-stream", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            try:
                item, exc = box.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                finished = True
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        if not finished:
            abort()


def _quietly(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:  # closing a half-read answer may fail in many ways; none matter
        pass


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
        self.sources: list[dict[str, Any]] = []

    def feed(self, chunk: Any) -> Iterator[Event]:
        usage = getattr(chunk, "usage", None)
        if usage:
            self.usage = usage_from(usage)
        add_sources(self.sources, _extra(chunk, "web_search"))
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
        if self.sources:
            yield Sources(self.sources)
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
    sources: list[dict[str, Any]] = []
    add_sources(sources, _extra(completion, "web_search"))
    if sources:
        yield Sources(sources)
    if getattr(completion, "usage", None):
        yield UsageEvent(usage_from(completion.usage))
    yield Finish(choice.finish_reason if choice is not None else None)


def add_sources(sources: list[dict[str, Any]], found: Any) -> None:
    """Add web search results (Zhipu's top-level `web_search` list) not seen yet."""
    if not isinstance(found, list):
        return
    seen = {(s.get("link"), s.get("title")) for s in sources}
    for item in found:
        if hasattr(item, "model_dump"):
            item = item.model_dump()
        if isinstance(item, dict) and (item.get("link"), item.get("title")) not in seen:
            seen.add((item.get("link"), item.get("title")))
            sources.append(dict(item))


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
