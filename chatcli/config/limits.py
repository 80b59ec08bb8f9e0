"""The limits of the generation options (sampling, search, thinking), shared by the flags and the config file."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

SEED_MAX = 2**64 - 1  # DashScope: "seed支持无符号64位整数"
# No catalogued model writes more than ~100k tokens in one answer; a larger value is a slip of the finger.
MAX_TOKENS_MAX = 1_000_000


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
# name: the largest value, checked once LIMITS accepts the value (the message names the bound).
CEILINGS: dict[str, int] = {"max_tokens": MAX_TOKENS_MAX}


def problem(name: str, value: Any) -> str | None:
    """What is wrong with a value for option `name`, or None."""
    accepts, message = LIMITS[name]
    if not accepts(value):
        return message
    ceiling = CEILINGS.get(name)
    if ceiling is not None and value > ceiling:
        return f"must be at most {ceiling:,}"
    return None


def flag(name: str) -> str:
    """The command-line spelling of an option."""
    return "--" + name.replace("_", "-")
