"""Generation options (sampling, web search, thinking, JSON mode): their limits, defaults and merging.

The same limits check `--temperature` and friends on the command line and the per-provider keys
in the config file. Turning options into request fields is each provider's job
(`Provider.check_options` / `apply_options`); the helpers they share are here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from chatcli.errors import UsageError

SEED_MAX = 2**64 - 1  # DashScope: "seed支持无符号64位整数"
JSON_HINT = "Reply with one JSON object."


def _number(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _stop(v: Any) -> bool:
    if isinstance(v, str):
        return v != ""
    return isinstance(v, list) and bool(v) and all(isinstance(x, str) and x != "" for x in v)


# name: (accepts, what is wrong otherwise). Shared by the flags and the config file.
LIMITS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "temperature": (lambda v: _number(v) and 0 <= v < 2, "must be a number in [0, 2)"),
    "top_p": (lambda v: _number(v) and 0 < v <= 1, "must be a number in (0, 1]"),
    "max_tokens": (lambda v: type(v) is int and v >= 1, "must be a whole number >= 1"),
    "seed": (lambda v: type(v) is int and 0 <= v <= SEED_MAX, "must be a whole number from 0 to 2**64-1"),
    "presence_penalty": (lambda v: _number(v) and -2 <= v <= 2, "must be a number in [-2, 2]"),
    "stop": (_stop, "must be a non-empty string or a list of them"),
    "search": (lambda v: isinstance(v, bool), "must be true or false"),
    "think": (lambda v: isinstance(v, bool), "must be true or false"),
}
SAMPLING = ("temperature", "top_p", "max_tokens", "seed", "presence_penalty")


def problem(name: str, value: Any) -> str | None:
    """What is wrong with a value for option `name`, or None."""
    accepts, message = LIMITS[name]
    return None if accepts(value) else message


def flag(name: str) -> str:
    """The command-line spelling of an option."""
    return "--" + name.replace("_", "-")


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

    def validate(self, *, stream: bool = True) -> GenerationOptions:
        """Raise a UsageError naming the flag for a value out of range or a combination no provider takes."""
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
        if self.think and not stream:
            raise UsageError("thinking needs streaming: drop --no-stream (or add --no-think)")
        if self.think and self.json_object:
            raise UsageError("--json-object cannot be used with thinking on (the providers refuse it): add --no-think")
        return self

    def sampling(self) -> dict[str, Any]:
        """The OpenAI-named sampling fields that are set (stop as a list)."""
        out = {name: getattr(self, name) for name in SAMPLING if getattr(self, name) is not None}
        if self.stop:
            out["stop"] = list(self.stop)
        return out


def is_dashscope(base_url: str | None) -> bool:
    """Whether an OpenAI-compatible base URL is DashScope's compatible mode."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url or "")
    return (parts.hostname or "").endswith("aliyuncs.com") or "/compatible-mode/" in parts.path + "/"


def check_dashscope(name: str, opts: GenerationOptions) -> None:
    """DashScope's own limit beyond the common ones: top_p below 1 ("取值不要大于等于1")."""
    if opts.top_p is not None and opts.top_p >= 1:
        raise UsageError(f"{name}: DashScope takes --top-p in (0, 1), not {opts.top_p:g}")


def dashscope_switches(opts: GenerationOptions) -> dict[str, Any]:
    """enable_search / enable_thinking, where set (extra_body in compatible mode, parameters natively)."""
    out: dict[str, Any] = {}
    if opts.search is not None:
        out["enable_search"] = opts.search
    if opts.think is not None:
        out["enable_thinking"] = opts.think
    return out


def with_json_hint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The wire messages, with a system hint added if none mentions JSON.

    DashScope and OpenAI refuse `response_format: json_object` unless the word "json" appears
    in the messages; the hint goes into this request only, never into the saved history.
    """
    if any("json" in _text(m.get("content")).lower() for m in messages):
        return messages
    if messages and messages[0].get("role") == "system" and isinstance(messages[0].get("content"), str):
        first = {**messages[0], "content": f"{messages[0]['content']}\n\n{JSON_HINT}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": JSON_HINT}, *messages]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""
