"""Conversation history and the turn engine. No terminal I/O here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatcli.errors import ChatError
from chatcli.messages import (
    ChatRequest,
    Event,
    Finish,
    Message,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
)

if TYPE_CHECKING:
    from chatcli.providers.base import Provider

# Finish reasons other than stop/tool_calls: (notice, whether the turn failed).
FINISH_NOTICES: dict[str, tuple[str, bool]] = {
    "length": ("the answer was cut off at the token limit (finish_reason: length)", False),
    "sensitive": ("the provider's safety review stopped the answer (finish_reason: sensitive); "
                  "treat the text above as withdrawn", True),
    "content_filter": ("the provider's content filter stopped the answer (finish_reason: content_filter)", True),
    "network_error": ("the provider's inference failed mid-answer (finish_reason: network_error); "
                      "try again", True),
    "model_context_window_exceeded": ("the conversation no longer fits the model's context window "
                                      "(finish_reason: model_context_window_exceeded)", True),
}


def finish_notice(reason: str | None) -> tuple[str, bool] | None:
    """What to tell the user about a finish reason, and whether it counts as a failure."""
    if reason in (None, "stop", "tool_calls"):
        return None
    return FINISH_NOTICES.get(reason, (f"the answer ended unexpectedly (finish_reason: {reason})", False))


@dataclass
class Turn:
    """What one model call produced, kept even when it fails or is interrupted."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    interrupted: bool = False
    error: ChatError | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.content += event.text
        elif isinstance(event, ReasoningDelta):
            self.reasoning += event.text
        elif isinstance(event, ToolCallEvent):
            self.tool_calls.append(event.call)
        elif isinstance(event, UsageEvent):
            self.usage = event.usage
        elif isinstance(event, Finish):
            self.finish_reason = event.reason


class Conversation:
    """The messages of one chat, and sending a user turn through a provider."""

    def __init__(self, system: str | None = None) -> None:
        self.messages: list[Message] = [Message("system", system)] if system else []
        self.last: Turn | None = None

    def send(
        self,
        provider: Provider,
        model: str,
        text: str,
        *,
        stream: bool = True,
        options: dict[str, Any] | None = None,
    ) -> Iterator[Event]:
        """Append the user's message, call the model, yield its events, and record the answer."""
        self.messages.append(Message("user", text))
        turn = self.last = Turn()
        request = ChatRequest(messages=list(self.messages), model=model, stream=stream, options=options or {})
        try:
            for event in provider.stream(request):
                turn.add(event)
                yield event
        except KeyboardInterrupt:
            turn.interrupted = True
            raise
        except ChatError as err:
            turn.error = err
            raise
        finally:
            if turn.content or turn.tool_calls:
                self.messages.append(
                    Message("assistant", turn.content, reasoning=turn.reasoning or None, tool_calls=turn.tool_calls)
                )
