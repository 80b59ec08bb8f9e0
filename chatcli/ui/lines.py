"""The dim lines around an answer: tool calls, sources, usage, stats. Plain strings; the renderers style them."""

from __future__ import annotations

import json

from chatcli.core.messages import Sources, ToolResult, Usage
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
    line = f"⚙ {result.call.name}({shown}) → {brief}"
    line = strip_controls(" ".join(line.split()))
    if len(line) > width - 10:
        line = line[: width - 11] + "…"
    return f"{line} ({result.seconds:.1f} s)"


def source_lines(sources: Sources) -> list[str]:
    """`Sources:` then `1. title — link` for each web page the answer drew on."""
    lines = ["Sources:"]
    for n, item in enumerate(sources.items, 1):
        title = " ".join(strip_controls(str(item.get("title") or item.get("media") or "")).split())
        link = strip_controls(str(item.get("link") or "")).strip()
        lines.append(f"{n}. {title} — {link}" if title and link else f"{n}. {title or link or '(untitled)'}")
    return lines


def stats_line(model: str, usage: Usage | None, seconds: float) -> str:
    """`qwen-plus · 120 in / 356 out · 8.4 s · 42 tok/s` after an answer."""
    if usage is None:
        return f"{model} · {seconds:.1f} s"
    rate = usage.completion_tokens / seconds if seconds > 0 else 0.0
    return (f"{model} · {usage.prompt_tokens:,} in / {usage.completion_tokens:,} out · "
            f"{seconds:.1f} s · {rate:.0f} tok/s")


def kilo(n: int) -> str:
    """A token count for the toolbar: 950, 1.2k."""
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)
