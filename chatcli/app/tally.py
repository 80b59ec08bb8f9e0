"""What a conversation or a session has used: requests, tokens and cost."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatcli.core.messages import Usage


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
