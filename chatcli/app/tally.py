"""What an answer, a conversation or a session used: time (to the first token), requests, tokens, cost."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chatcli.core.messages import Event, ReasoningDelta, TextDelta, Usage


@dataclass
class Tally:
    """Requests, tokens and cost added up over some turns."""

    requests: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None  # of the answers whose model has a price in [prices]; None: none had

    def add(self, requests: int, usage: Usage | None, cost: float | None) -> None:
        self.requests += requests
        if usage is not None:
            self.usage = self.usage + usage
        if cost is not None:
            self.cost = (self.cost or 0.0) + cost


class Stopwatch:
    """The time of one answer and of its first token (text or reasoning)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.first_token: float | None = None  # seconds from the start to the first token

    def see(self, event: Event) -> None:
        """Note the first token's time."""
        if self.first_token is None and isinstance(event, (TextDelta, ReasoningDelta)) and event.text:
            self.first_token = self.clock() - self.started

    def seconds(self) -> float:
        """Seconds since the start."""
        return self.clock() - self.started
