"""Generation options (sampling, web search, thinking, JSON mode): defaults, merging and checks.

The limits of each option live in `chatcli.config.limits`, shared with the config file. Turning
options into request fields is each provider's job (`Provider.check_options` / `apply_options`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from chatcli.config.limits import LIMITS, SAMPLING, flag, problem
from chatcli.errors import UsageError


@dataclass
class GenerationOptions:
    """How the model should answer; None (or an empty stop list) means the provider's default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    presence_penalty: float | None = None
    search: bool | None = None
    think: bool | None = None
    json_object: bool = False
    # Whether the answer will be streamed (set by validate; None: not known). Not a request field of its
    # own (ChatRequest.stream is): it lets a provider refuse before anything is saved what its server
    # refuses unstreamed (DashScope's compatible mode with thinking on).
    stream: bool | None = None

    @classmethod
    def from_config(cls, pcfg: Any) -> GenerationOptions:
        """The defaults set in a provider's config table."""
        stop = getattr(pcfg, "stop", None)
        return cls(
            temperature=pcfg.temperature, top_p=pcfg.top_p, max_tokens=pcfg.max_tokens, seed=pcfg.seed,
            stop=[stop] if isinstance(stop, str) else list(stop or []),
            presence_penalty=pcfg.presence_penalty, search=pcfg.search, think=pcfg.think,
        )

    def merged(self, over: GenerationOptions) -> GenerationOptions:
        """These options with every field `over` sets (flags over config defaults)."""
        values = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(over, f.name)
            unset = theirs is None or (f.name in ("stop", "json_object") and not theirs)
            values[f.name] = mine if unset else theirs
        return GenerationOptions(**values)

    def validate(self, *, stream: bool | None = None) -> GenerationOptions:
        """These options, with `stream` recorded when given; UsageError naming the flag for a value out of
        range or a combination no provider takes (what one provider refuses is its `check_options`' job)."""
        for name in LIMITS:
            value = getattr(self, name)
            if value is None or (name == "stop" and value == []):
                continue
            if name == "stop":
                bad = next((s for s in value if not isinstance(s, str) or not s), None)
                if bad is not None:
                    raise UsageError("--stop needs a non-empty string")
                continue
            message = problem(name, value)
            if message:
                raise UsageError(f"{flag(name)} {message} (got {value})")
        if self.think and self.json_object:
            raise UsageError("--json-object cannot be used with thinking on (the providers refuse it): add --no-think")
        return self if stream is None else replace(self, stream=stream)

    def sampling(self) -> dict[str, Any]:
        """The OpenAI-named sampling fields that are set (stop as a list)."""
        out = {name: getattr(self, name) for name in SAMPLING if getattr(self, name) is not None}
        if self.stop:
            out["stop"] = list(self.stop)
        return out
