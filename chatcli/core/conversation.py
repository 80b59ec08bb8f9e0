"""Conversation history and the turn engine (model calls, the tool loop). No terminal I/O here."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatcli.core.context import fit
from chatcli.core.messages import (
    ChatRequest,
    Event,
    Finish,
    Message,
    Notice,
    ReasoningDelta,
    Sources,
    TextDelta,
    TextParts,
    ToolCall,
    ToolCallEvent,
    ToolResult,
    Usage,
    UsageEvent,
    content_text,
)
from chatcli.errors import ChatError, Terminated

if TYPE_CHECKING:
    from chatcli.core.options import GenerationOptions
    from chatcli.providers.base import Provider
    from chatcli.tools.registry import ToolRegistry

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

WITHDRAWN = ("sensitive", "content_filter")  # the text shown is withdrawn: saved marked, not sent back
MAX_CALLS_PER_ROUND = 32  # a model asking for more at once is misbehaving


def finish_notice(reason: str | None) -> tuple[str, bool] | None:
    """What to tell the user about a finish reason, and whether it counts as a failure."""
    if reason in (None, "stop", "tool_calls"):
        return None
    return FINISH_NOTICES.get(reason, (f"the answer ended unexpectedly (finish_reason: {reason})", False))


@dataclass
class Turn:
    """What one user turn produced over all its model calls, kept even when it fails or is interrupted."""

    text: TextParts = field(default_factory=TextParts)  # the answer (read it as `content`)
    thought: TextParts = field(default_factory=TextParts)  # the reasoning (read it as `reasoning`)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    usage: Usage | None = None  # summed over the turn's model calls
    last_usage: Usage | None = None  # of its last model call: what the conversation now takes
    finish_reason: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)  # web search results, if any
    rounds: int = 0
    dropped: int = 0  # oldest turns left out of the request to fit the context budget
    interrupted: bool = False
    error: ChatError | None = None

    @property
    def content(self) -> str:
        """The answer's text over all the turn's model calls."""
        return str(self.text)

    @property
    def reasoning(self) -> str:
        """The reasoning the model showed, if any."""
        return str(self.thought)

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.text.add(event.text)
        elif isinstance(event, ReasoningDelta):
            self.thought.add(event.text)
        elif isinstance(event, ToolCallEvent):
            self.tool_calls.append(event.call)
        elif isinstance(event, ToolResult):
            self.tool_results.append(event)
        elif isinstance(event, UsageEvent):
            self.usage = event.usage if self.usage is None else self.usage + event.usage
            self.last_usage = event.usage
        elif isinstance(event, Finish):
            self.finish_reason = event.reason
        elif isinstance(event, Sources):
            self.sources.extend(event.items)


class Conversation:
    """The messages of one chat, and sending a user turn through a provider."""

    def __init__(self, system: str | None = None) -> None:
        self.messages: list[Message] = [Message("system", system)] if system else []
        self.last: Turn | None = None
        self.on_message: Callable[[Message, Usage | None], None] | None = None  # e.g. saving

    def append(self, message: Message, usage: Usage | None = None) -> None:
        """Add a message to the history (and tell the listener)."""
        self.messages.append(message)
        if self.on_message is not None:
            self.on_message(message, usage)

    def send(
        self,
        provider: Provider,
        model: str,
        text: str | list[dict[str, Any]],
        *,
        tools: ToolRegistry | None = None,
        max_rounds: int = 8,
        stream: bool = True,
        budget: int | None = None,
        generation: GenerationOptions | None = None,
        meta: dict[str, str] | None = None,
    ) -> Iterator[Event]:
        """Append the user's message (text, or a list of parts), then call the model (running its tool
        calls) until it answers.

        With a token budget, the oldest turns that do not fit are left out of the requests.
        """
        self.append(Message("user", text))
        turn = self.last = Turn()
        base = ChatRequest(messages=[], model=model, stream=stream, tools=tools.schemas() if tools else None,
                           generation=generation, meta=meta)
        try:
            while True:
                calls = yield from self._model_call(provider, base, tools, turn, budget)
                if not calls or tools is None:
                    return
                if turn.rounds >= max_rounds:
                    self._answer_unrun(calls, f"not run: the limit of {max_rounds} tool rounds was reached")
                    yield Notice(f"stopped after {max_rounds} rounds of tool calls (tools.max_rounds); "
                                 "the model kept asking for more")
                    return
                turn.rounds += 1
                extra = calls[MAX_CALLS_PER_ROUND:]
                if extra:
                    yield Notice(f"the model asked for {len(calls)} tool calls at once; ran the first "
                                 f"{MAX_CALLS_PER_ROUND} and told it the rest were not run")
                yield from self._run_tools(tools, calls[:MAX_CALLS_PER_ROUND], turn)
                self._answer_unrun(extra, f"not run: more than {MAX_CALLS_PER_ROUND} calls in one round")
        except (KeyboardInterrupt, Terminated):
            turn.interrupted = True
            raise
        except ChatError as err:
            turn.error = err
            raise

    def _model_call(self, provider: Provider, base: ChatRequest, tools: ToolRegistry | None,
                    turn: Turn, budget: int | None) -> Generator[Event, None, list[ToolCall]]:
        """One request; records the assistant message (even a partial one). Returns its tool calls."""
        messages, dropped = fit(self.messages, budget) if budget else (list(self.messages), 0)
        if dropped > turn.dropped:  # said once per turn, unless tool results push out more
            turn.dropped = dropped
            yield Notice(f"left out the {dropped} oldest turn{'s' if dropped > 1 else ''} "
                         f"to stay within the context budget (~{budget:,} tokens)")
        request = dataclasses.replace(base, messages=messages)
        content, calls, usage = TextParts(), [], None
        separate = bool(len(turn.text)) and not turn.text.endswith("\n")
        complete = withdrawn = False
        try:
            for event in provider.stream(request):
                if isinstance(event, TextDelta):
                    if separate:  # text before a tool call, then the answer: keep them apart
                        separate = False
                        turn.add(TextDelta("\n\n"))
                        yield TextDelta("\n\n")
                    content.add(event.text)
                elif isinstance(event, ToolCallEvent):
                    calls.append(event.call)
                elif isinstance(event, UsageEvent):
                    usage = event.usage
                elif isinstance(event, Finish):
                    withdrawn = event.reason in WITHDRAWN
                turn.add(event)
                yield event
            complete = True
        finally:
            if tools is None or not complete:
                calls = []  # never leave calls without results in the history
            if len(content) or calls:
                self.append(Message("assistant", str(content), tool_calls=calls, interrupted=not complete,
                                    withdrawn=withdrawn), usage)
        return calls

    def _run_tools(self, tools: ToolRegistry, calls: list[ToolCall], turn: Turn) -> Iterator[Event]:
        """Run one round of calls; every call gets a tool message, in the order the model made them."""
        done: dict[int, ToolResult] = {}
        try:
            for result in tools.run_all(calls):
                done[id(result.call)] = result
                turn.add(result)
                yield result
        finally:
            for call in calls:
                finished = done.get(id(call))
                content = finished.content if finished else json.dumps({"error": "interrupted before it finished"})
                self.append(Message("tool", content, tool_call_id=call.id, name=call.name))

    def last_user_index(self) -> int | None:
        """Index of the last user message, or None."""
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i].role == "user":
                return i
        return None

    def undo(self) -> str | None:
        """Drop the last turn (the user's message and everything after it); return its text."""
        i = self.last_user_index()
        if i is None:
            return None
        text = content_text(self.messages[i].content)
        del self.messages[i:]
        return text

    @property
    def system(self) -> str | None:
        """The system prompt, if any."""
        first = self.messages[0] if self.messages else None
        return first.content if first is not None and first.role == "system" else None  # type: ignore[return-value]

    @system.setter
    def system(self, text: str | None) -> None:
        if self.messages and self.messages[0].role == "system":
            del self.messages[0]
        if text:
            self.messages.insert(0, Message("system", text))

    def clear(self) -> None:
        """Start over, keeping the system prompt."""
        system = self.system
        self.messages = []
        self.system = system
        self.last = None

    def _answer_unrun(self, calls: list[ToolCall], reason: str) -> None:
        for call in calls:
            self.append(Message("tool", json.dumps({"error": reason}), tool_call_id=call.id, name=call.name))
