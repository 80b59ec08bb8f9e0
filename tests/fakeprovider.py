"""An in-process provider with queued replies, for testing the session and the tool loop without HTTP.

Like simonw/llm's mock model: queue what the model says, run the code, then look at what it was sent::

    fake = fake_for(cfg)
    fake.enqueue([("call_1", "get_current_time", '{"timezone": "Asia/Shanghai"}')], "It is noon.")
    list(ChatSession(cfg, providers={"qwen": fake}).send("What time is it?"))
    assert fake.requests[1].messages[-1].role == "tool"

A reply is one of:
- text: a str, or a list of str chunks -> TextDelta per chunk, then Finish("stop");
- tool calls: a list of (id, name, json-arguments) tuples -> ToolCallEvent each, then Finish("tool_calls");
- an exception instance (a ChatError, or KeyboardInterrupt): raised when the request is opened, so
  retryable ProviderErrors go through the real retry loop (see `enqueue` for the wait);
- a list of events (use `text_reply` / `tool_reply` for usage or another finish reason); an exception
  instance in the list is raised at that point of the stream (an error or Ctrl-C mid-answer).
"""

from __future__ import annotations

import copy
import typing
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from chatcli.core.messages import (
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
from chatcli.errors import ProviderError
from chatcli.providers.base import Notify, Provider

if TYPE_CHECKING:
    from chatcli.config import Config, ProviderConfig

Played = list[Any]  # events, and exceptions to raise mid-stream
EVENT_TYPES: tuple[type, ...] = typing.get_args(Event)


def text_reply(*chunks: str, usage: Usage | None = None, finish: str | None = "stop",
               reasoning: str = "") -> Played:
    """An answer streamed as chunks, then its usage (if given) and finish reason."""
    events: Played = [ReasoningDelta(reasoning)] if reasoning else []
    events += [TextDelta(chunk) for chunk in chunks]
    return _ending(events, usage, finish)


def tool_reply(*calls: tuple[str, str, str], usage: Usage | None = None, text: str = "") -> Played:
    """A round of tool calls (id, name, JSON arguments), optionally after some text."""
    events: Played = [TextDelta(text)] if text else []
    events += [ToolCallEvent(ToolCall(*call)) for call in calls]
    return _ending(events, usage, "tool_calls")


def _ending(events: Played, usage: Usage | None, finish: str | None) -> Played:
    return [*events, *([UsageEvent(usage)] if usage else []), Finish(finish)]


def as_events(reply: Any) -> Played | BaseException:
    """A queued reply in its played form (see the module docstring)."""
    if isinstance(reply, BaseException):
        return reply
    if isinstance(reply, str):
        return text_reply(reply)
    if isinstance(reply, (list, tuple)):
        items = list(reply)
        if items and all(isinstance(item, str) for item in items):
            return text_reply(*items)
        if items and all(isinstance(item, tuple) for item in items):
            return tool_reply(*items)
        wrong = [item for item in items if not isinstance(item, (*EVENT_TYPES, BaseException))]
        if not wrong:
            return items
        raise TypeError(f"not an event: {wrong[0]!r}")
    raise TypeError(f"cannot queue {reply!r}: give text, chunks, tool-call tuples, events or an exception")


class FakeProvider(Provider):
    """A provider that plays queued replies and records every request it is sent (each retry too)."""

    def __init__(self, config: ProviderConfig, notify: Notify | None = None) -> None:
        self.notices: list[str] = []  # what the provider told the user (retry notices), unless notify is given
        super().__init__(config, notify or self.notices.append)
        self.requests: list[ChatRequest] = []
        self._replies: deque[Played | BaseException] = deque()

    def enqueue(self, *replies: Any) -> FakeProvider:
        """Queue replies, one per request, in order.

        A retryable ProviderError without retry_after is given retry_after=0, so the real retry
        loop runs without the exponential backoff's sleep.
        """
        for reply in replies:
            played = as_events(reply)
            if isinstance(played, ProviderError) and played.retryable and played.retry_after is None:
                played.retry_after = 0.0
            self._replies.append(played)
        return self

    @property
    def pending(self) -> int:
        """Replies queued and not played yet."""
        return len(self._replies)

    def _open(self, request: ChatRequest) -> Iterator[Event]:
        self.requests.append(copy.deepcopy(request))  # a snapshot: the history goes on changing
        if not self._replies:
            last = request.messages[-1] if request.messages else None
            said = f"{last.role}: {last.content!r}" if last else "no messages"
            raise AssertionError(f"FakeProvider {self.name!r}: no reply queued for request #{len(self.requests)} "
                                 f"(model {request.model}, last message {said}); call enqueue() first")
        reply = self._replies.popleft()
        if isinstance(reply, BaseException):
            raise reply
        return _play(reply)


def _play(events: Played) -> Iterator[Event]:
    for event in events:
        if isinstance(event, BaseException):
            raise event
        yield event


def fake_for(cfg: Config, name: str = "qwen", notify: Notify | None = None) -> FakeProvider:
    """A fake for one of the configured providers (ConfigError if unknown)."""
    return FakeProvider(cfg.provider(name), notify)
