"""Token usage lines and what they cost, from the optional `[prices]` table of the config file.

```toml
[prices]
currency = "CNY"                                  # optional; shown as ¥ (USD $, EUR €)
[prices.qwen-plus]
input = 0.8                                       # per million prompt tokens
output = 2.0                                      # per million completion tokens (reasoning included)
cached = 0.32                                     # optional: per million cached prompt tokens (else input)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€"}
PRICE_KEYS = ("input", "output", "cached")


class TokenCounts(Protocol):
    """The token counts a price applies to (chatcli.core.messages.Usage has them; config never imports core)."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None
    reasoning_tokens: int | None


@dataclass
class Price:
    """Prices per million tokens for one model."""

    input: float
    output: float
    cached: float | None = None

    def cost(self, usage: TokenCounts) -> float:
        """What the usage cost in the configured currency."""
        cached = min(usage.cached_tokens or 0, usage.prompt_tokens)
        fresh = usage.prompt_tokens - cached
        cached_price = self.input if self.cached is None else self.cached
        return (fresh * self.input + cached * cached_price + usage.completion_tokens * self.output) / 1_000_000


def price_for(prices: dict[str, Any], model: str) -> Price | None:
    """The configured price of a model, or None."""
    entry = prices.get(model) if model != "currency" else None
    if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:  # half set: no price yet
        return None
    return Price(float(entry["input"]), float(entry["output"]),
                 float(entry["cached"]) if entry.get("cached") is not None else None)


def cost_of(prices: dict[str, Any], model: str, usage: TokenCounts | None) -> float | None:
    """What usage of a model cost, if [prices] has the model."""
    price = price_for(prices, model)
    return price.cost(usage) if price is not None and usage is not None else None


def money(amount: float, prices: dict[str, Any]) -> str:
    """An amount in the configured currency: ¥0.0012, $1.25, 0.0012 GBP, or 0.0012 without one."""
    number = f"{amount:,.2f}" if amount >= 1 else f"{amount:.4f}"
    currency = prices.get("currency")
    if not currency:
        return number
    symbol = SYMBOLS.get(str(currency).upper())
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def usage_line(usage: TokenCounts, cost: str | None = None) -> str:
    """`usage: 1,234 in (200 cached) · 56 out (30 reasoning) · ¥0.0012`."""
    line = f"usage: {usage.prompt_tokens:,} in"
    if usage.cached_tokens:
        line += f" ({usage.cached_tokens:,} cached)"
    line += f" · {usage.completion_tokens:,} out"
    if usage.reasoning_tokens:
        line += f" ({usage.reasoning_tokens:,} reasoning)"
    return f"{line} · {cost}" if cost else line


def check_prices(table: dict[str, Any]) -> tuple[tuple[str, ...], str] | None:
    """What is wrong in a [prices] table: (key path below [prices], message), or None."""
    for model, entry in table.items():
        if model == "currency":
            if not isinstance(entry, str) or not entry.strip():
                return (model,), "prices.currency must be a non-empty string, e.g. \"CNY\""
            continue
        if not isinstance(entry, dict):
            return (model,), f'prices."{model}" must be a table like {{ input = 0.8, output = 2.0 }}'
        for key, value in entry.items():
            if key not in PRICE_KEYS:
                return (model, key), f"unknown key {key!r} in [prices.\"{model}\"] (known: {', '.join(PRICE_KEYS)})"
            if type(value) not in (int, float) or value < 0:
                return (model, key), f'prices."{model}".{key} must be a number >= 0 (per million tokens)'
    return None


def incomplete(table: dict[str, Any]) -> list[str]:
    """`prices.MODEL.input`-style keys still missing for a cost to be shown (set one key at a time)."""
    return [f"prices.{model}.{key}" for model, entry in table.items() if model != "currency" and isinstance(entry, dict)
            for key in ("input", "output") if key not in entry]
