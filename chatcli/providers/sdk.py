"""The base of the adapters whose SDK speaks the OpenAI chat-completions shape (openai, zhipuai)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from chatcli.core.messages import ChatRequest, Event
from chatcli.errors import ProviderError
from chatcli.providers.base import Provider
from chatcli.providers.chunks import ChunkAssembler, events_from_completion
from chatcli.providers.errmap import classify
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
