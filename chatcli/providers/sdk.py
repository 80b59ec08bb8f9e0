"""The base of the adapters whose SDK speaks the OpenAI chat-completions shape (openai, zhipuai)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from chatcli.core.messages import ChatRequest, Event
from chatcli.errors import ProviderError
from chatcli.providers import integrity
from chatcli.providers.base import Provider
from chatcli.providers.chunks import ChunkAssembler, events_from_completion
from chatcli.providers.errmap import classify, parse_error_body
from chatcli.providers.wire import api_messages, with_json_hint

if TYPE_CHECKING:
    from chatcli.core.options import GenerationOptions


class SDKProvider(Provider):
    """A provider whose SDK speaks the OpenAI chat-completions shape (openai, zhipuai)."""

    send_stream_options = False
    _client: Any = None
    _key: str | None = None

    @abstractmethod
    def make_client(self, api_key: str, timeout: float) -> Any:
        """A configured SDK client with its own retries off (retries are ours)."""

    @abstractmethod
    def mapped(self, request: ChatRequest, *, mid_stream: bool, headers: Any = None) -> AbstractContextManager[None]:
        """A context that converts the SDK's exceptions into ProviderError subclasses.

        headers: those of the answer being read, for an in-stream error (its request id).
        """

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
        kwargs.update(opts.sampling())
        if opts.json_object:
            kwargs["response_format"] = {"type": "json_object"}
            kwargs["messages"] = with_json_hint(kwargs["messages"])

    @abstractmethod
    def completion_type(self) -> Any:
        """The SDK's chat completion model, to read a JSON body that answers a streaming request."""

    def _open(self, request: ChatRequest) -> Iterator[Event]:
        client = self.client()
        with self.mapped(request, mid_stream=False):
            result = client.chat.completions.create(**self.request_kwargs(request))
            answered = integrity.body_kind(self.name, self.config.base_url, result.response) if request.stream else None
            if answered == integrity.JSON:  # a whole JSON body answers the stream, as the SDKs read it
                return iter(self._json_body(request, result.response))
        if not request.stream:
            return iter(self._completion_events(result))
        return self._iterate(request, result)

    def _json_body(self, request: ChatRequest, response: Any) -> list[Event]:
        """A whole JSON body sent to a streaming request: an error, or a completion (as the SDKs read it)."""
        data = integrity.read_json(self.name, self.config.base_url, response)
        if isinstance(data, dict) and ("error" in data or ("code" in data and "choices" not in data)):
            raise self.classify(None, parse_error_body(data), request, response.headers)
        try:
            completion = self.completion_type().model_validate(data)
        except ValueError:  # pydantic's ValidationError: another shape
            raise integrity.wrong_shape(self.name, self.config.base_url, "not a chat completion", data) from None
        return self._completion_events(completion)

    def _completion_events(self, completion: Any) -> list[Event]:
        """The events of a whole completion, once its shape is checked."""
        problem = integrity.completion_problem(completion)
        if problem is not None:
            if isinstance(completion, str):
                raise integrity.not_asked(self.name, self.config.base_url, "text, not a chat completion", completion)
            raise integrity.wrong_shape(self.name, self.config.base_url, problem, completion)
        try:
            return list(events_from_completion(completion))
        except integrity.UNREADABLE as e:
            raise integrity.unreadable(self.name, self.config.base_url, e, completion) from None

    def _iterate(self, request: ChatRequest, stream: Any) -> Iterator[Event]:
        return self.stream_events(request, stream, stream, ChunkAssembler(), integrity.chunk_problem)

    def stream_events(self, request: ChatRequest, chunks: Any, stream: Any, asm: Any,
                      problem_of: Callable[[Any], str | None],
                      fed: Callable[[Any], None] | None = None,
                      seen: Callable[[Any, Any], None] | None = None) -> Iterator[Event]:
        """The events of the chunks an assembler reads, each chunk's shape checked first; a stream that
        ends without a finish reason is cut off (half-received tool calls are dropped with the rest).

        stream (None for a completion read whole) is closed at the end or when reading stops. fed(asm)
        runs after each chunk is read, before its events are yielded; seen(asm, headers) after (it may raise).
        """
        if stream is not None:
            self.reading(lambda: self.close_stream(stream))
        headers = getattr(getattr(stream, "response", None), "headers", None)
        try:
            with self.mapped(request, mid_stream=True, headers=headers):
                for chunk in chunks:
                    problem = problem_of(chunk)
                    if problem is not None:
                        raise integrity.wrong_shape(self.name, self.config.base_url, problem, chunk)
                    try:
                        events = list(asm.feed(chunk))
                    except integrity.UNREADABLE as e:
                        raise integrity.unreadable(self.name, self.config.base_url, e, chunk) from None
                    if fed is not None:
                        fed(asm)
                    yield from events
                    if seen is not None:
                        seen(asm, headers)
        finally:
            if stream is not None:
                self.close_stream(stream)
        if asm.finish_reason is None:
            raise integrity.cut_off(self.name, asm.anything)
        yield from asm.finish()

    def classify(self, status: int | None, error: dict, request: ChatRequest, headers: Any) -> ProviderError:
        """The ProviderError for a server error object."""
        return classify(
            self.name, status, error, headers=headers, key_env=self.config.api_key_env,
            model=request.model, secret=self._key,
        )
