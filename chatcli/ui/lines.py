"""The dim lines around an answer: tool calls, sources, usage, stats. Plain strings; the renderers style them.

Also what fits a terminal line: cells counted without rich (CJK 2, combining marks 0), `fit` and `wrap`.
"""

from __future__ import annotations

import json

from chatcli.core.messages import Sources, ToolResult, Usage
from chatcli.ui.cells import cells, fit
from chatcli.ui.sanitize import strip_controls


def tool_line(result: ToolResult, width: int = 100) -> str:
    """One line about a finished tool call: name, arguments, a short result, duration."""
    try:
        args = json.loads(result.call.arguments or "{}")
        shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    except (ValueError, AttributeError):
        shown = result.call.arguments
    try:
        data = json.loads(result.content)
        brief = f"error: {data['error']}" if isinstance(data, dict) and "error" in data else \
            json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError):
        brief = result.content
    line = strip_controls(" ".join(f"⚙ {result.call.name}({shown}) → {brief}".split()))
    took = f" ({result.seconds:.1f} s)"
    return fit(line, width - cells(took)) + took


def source_lines(sources: Sources) -> list[str]:
    """`Sources:` then `1. title — link` for each web page the answer drew on."""
    lines = ["Sources:"]
    for n, item in enumerate(sources.items, 1):
        title = " ".join(strip_controls(str(item.get("title") or item.get("media") or "")).split())
        link = strip_controls(str(item.get("link") or "")).strip()
        lines.append(f"{n}. {title} — {link}" if title and link else f"{n}. {title or link or '(untitled)'}")
    return lines


def stats_line(model: str, usage: Usage | None, seconds: float, *, first_token: float | None = None,
               cost: str | None = None) -> str:
    """`qwen-plus · 1.8 s to first token · 42 tok/s · 120 in / 356 out · ¥0.0012` after an answer.

    The total time stands in for what is unknown: `qwen-plus · 8.4 s · 42 tok/s · ...` without a
    first token (not streamed), `qwen-plus · 1.8 s to first token · 8.4 s` without usage.
    """
    parts = [model]
    if first_token is not None:
        parts.append(f"{first_token:.1f} s to first token")
    if first_token is None or usage is None:
        parts.append(f"{seconds:.1f} s")
    if usage is not None:
        generating = seconds - first_token if first_token is not None else seconds
        if generating > 0 and usage.completion_tokens:
            parts.append(f"{usage.completion_tokens / generating:.0f} tok/s")
        parts.append(f"{usage.prompt_tokens:,} in / {usage.completion_tokens:,} out")
    if cost:
        parts.append(cost)
    return " · ".join(parts)


def kilo(n: int) -> str:
    """A token count for the toolbar: 950, 1.2k."""
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)
