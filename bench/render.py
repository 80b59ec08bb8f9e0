"""Streamed markdown rendering: the block-commit renderer against `Live(Markdown(full_text))`.

A long generated answer (Chinese and English prose, code, lists, tables) arrives in 4-character
chunks at a simulated 50 chunks/s; both approaches redraw at most 10 times a second (every 5th
chunk; the block-commit renderer less often when a redraw is costly) into an in-memory terminal
(100x40). Prints CPU, per-chunk latency, bytes written and how CPU grows with the answer's
length (for the renderer, the best of three runs after a warm-up). The naive approach is
quadratic: past a CPU budget it stops and its total is extrapolated from its cost per chunk.
Targets for the renderer: CPU growth exponent <= 1.15, per-chunk p99 <= 5 ms, bytes written
<= 20x the final render; the last line says `all targets met` or `missed: ...` (exit status 1).
A full run takes about three minutes; --quick (smaller answers, one run each) about fifteen seconds.

Usage, from the repository root: python -m bench.render [--quick] [--sizes 8000,32000,100000] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import io
import itertools
import math
import random
import sys
import time

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from chatcli.core.messages import TextDelta
from chatcli.ui.mdstream import CODE_THEME, MarkdownRenderer, markdown

WIDTH, HEIGHT, CHUNK, RATE, EVERY = 100, 40, 4, 50.0, 5
WORDS = ("the stream renderer prints each finished block once and redraws only the last one "
         "so the cost stays linear in the length of the answer").split()
HANZI = "流式渲染只重绘最后一个块已经完成的块只打印一次所以总开销与回答长度成正比终端不会闪烁"


def sentence(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "".join(rng.choice(HANZI) for _ in range(rng.randint(8, 30))) + "。"
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    if rng.random() < 0.3:
        words[rng.randrange(len(words))] = f"`{rng.choice(WORDS)}()`"
    if rng.random() < 0.3:
        words[rng.randrange(len(words))] = f"**{rng.choice(WORDS)}**"
    return " ".join(words).capitalize() + "."


KINDS = ["para", "list", "code", "para", "table", "heading", "quote", "para", "olist"]


def block(rng: random.Random, kind: str, n: int) -> str:
    if kind == "para":
        return " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))
    if kind in ("list", "olist"):
        return "\n".join(f"{'1.' if kind == 'olist' else '-'} {sentence(rng)}" for _ in range(rng.randint(3, 7)))
    if kind == "code":
        body = "\n".join(f"    result_{i} = compute({i}, '{rng.choice(WORDS)}')  # {rng.choice(WORDS)}"
                         for i in range(rng.randint(4, 12)))
        return f"```python\ndef step_{n}(data):\n{body}\n    return data\n```"
    if kind == "table":
        rows = "\n".join(f"| {rng.choice(WORDS)} | {rng.randint(1, 999)} | {rng.choice(HANZI) * 3} |"
                         for _ in range(rng.randint(3, 8)))
        return f"| name | value | 说明 |\n|---|---:|---|\n{rows}"
    if kind == "heading":
        return f"## {sentence(rng)}"
    return "> " + sentence(rng) + "\n> " + sentence(rng)


def answer(chars: int, seed: int = 1) -> str:
    """A markdown answer of about `chars` characters: the same mix of blocks at any length."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < chars:
        parts.append(block(rng, KINDS[len(parts) % len(KINDS)], len(parts)))
        total += len(parts[-1]) + 2
    return "\n\n".join(parts)[:chars] + "\n"


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, force_interactive=True, width=WIDTH, height=HEIGHT,
                   color_system="truecolor", legacy_windows=False)


def written(console: Console) -> str:
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


def final_bytes(text: str) -> int:
    console = terminal()
    console.print(markdown(text))
    return len(written(console).encode())


class Clock:
    """Simulated time: one chunk every 1/RATE s."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_stream(text: str) -> dict:
    clock = Clock()
    console = terminal()
    renderer = MarkdownRenderer(console, clock=clock)
    return measure(text, clock, renderer.handle, renderer.close, console)


def run_naive(text: str, budget: float) -> dict:
    console = terminal()
    live = Live(console=console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
    live.start()
    shown = [""]

    def handle(event: TextDelta, i: list[int] = [0]) -> None:  # noqa: B006 - a counter
        shown[0] += event.text
        i[0] += 1
        if i[0] % EVERY == 1:
            live.update(Markdown(shown[0], code_theme=CODE_THEME, hyperlinks=False), refresh=True)

    def close() -> None:
        live.update(Markdown(shown[0], code_theme=CODE_THEME, hyperlinks=False))
        live.stop()

    return measure(text, Clock(), handle, close, console, budget)


def measure(text: str, clock: Clock, handle, close, console: Console, budget: float = math.inf) -> dict:
    chunks = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]
    times: list[float] = []
    cpu0 = time.process_time()
    for chunk in chunks:
        t = time.perf_counter()
        handle(TextDelta(chunk))
        times.append(time.perf_counter() - t)
        clock.now += 1 / RATE
        if time.process_time() - cpu0 > budget:
            break
    done = len(times) == len(chunks)
    if done:
        close()
    cpu = time.process_time() - cpu0
    result = {"chunks": len(chunks), "done": done, "cpu": cpu, "times": sorted(times),
              "bytes": len(written(console).encode())}
    if not done:
        result["cpu"] = extrapolate(times, len(chunks))
    return result


def extrapolate(times: list[float], total: int) -> float:
    """Total CPU if each chunk costs a + b*i, fitted on the chunks measured (i = chunk index)."""
    n = len(times)
    xs = range(n)
    mx, my = (n - 1) / 2, sum(times) / n
    sxx = sum((x - mx) ** 2 for x in xs) or 1.0
    b = sum((x - mx) * (y - my) for x, y in zip(xs, times, strict=True)) / sxx
    a = my - b * mx
    return a * total + b * total * (total - 1) / 2


def pct(sorted_times: list[float], p: float) -> float:
    return sorted_times[min(len(sorted_times) - 1, int(p * len(sorted_times)))] * 1000


def row(name: str, size: int, r: dict, final: int) -> str:
    core = r["cpu"] / (r["chunks"] / RATE) * 100
    cpu = f"{r['cpu']:8.2f}" if r["done"] else f"~{r['cpu']:7.0f}"
    ratio = f"{r['bytes'] / final:9.1f}x" if r["done"] else f"{'over budget':>13}"
    t = r["times"]
    return (f"{name:<8}{size:>8}{r['chunks']:>8}{cpu}{core:>8.1f}%{pct(t, .5):>8.2f}{pct(t, .99):>8.2f}"
            f"{t[-1] * 1000:>9.1f}{r['bytes'] / 1e6:>9.2f}{ratio}")


def huge_blocks(lines: int) -> list[tuple[str, str]]:
    """One long code block, list and table: each redraw must stay bounded while they grow."""
    fence = "```python\n" + "".join(f"x_{i} = compute({i})  # step {i}\n" for i in range(lines)) + "```\n"
    items = "".join(f"- item {i}: {sentence(random.Random(i))}\n" for i in range(lines // 2))
    rows = "".join(f"| row {i} | {i * 7} | {HANZI[i % len(HANZI)] * 3} |\n" for i in range(lines // 2))
    return [("fence", fence), ("list", items), ("table", "| name | value | 说明 |\n|---|---:|---|\n" + rows)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: smaller answers, one run each")
    parser.add_argument("--sizes", help="answer lengths in characters (default 8000,32000,100000; quick 4000,16000)")
    parser.add_argument("--budget", type=float, help="CPU seconds per naive run (default 20, quick 2)")
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("4000,16000" if args.quick else "8000,32000,100000")).split(",")]
    budget = args.budget if args.budget is not None else 2.0 if args.quick else 20.0
    runs = 1 if args.quick else 3
    print(f"{WIDTH}x{HEIGHT} terminal, {CHUNK}-char chunks at {RATE:g}/s, redraw every {EVERY} chunks (10 Hz)")
    print(f"{'':<8}{'chars':>8}{'chunks':>8}{'CPU s':>8}{'core':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>9}"
          f"{'MB out':>9}{'vs final':>10}")
    run_stream(answer(3000))  # warm up: lexers and styles load on first use
    cpu: dict[str, list[float]] = {"stream": [], "naive": []}
    worst = {"core": 0.0, "p99": 0.0, "ratio": 0.0}
    for size in sizes:
        text = answer(size)
        final = final_bytes(text)
        for name in ("stream", "naive"):
            if name == "stream":  # cheap enough to take the best of three runs: less noise
                r = min((run_stream(text) for _ in range(runs)), key=lambda r: r["cpu"])
            else:
                r = run_naive(text, budget)
            cpu[name].append(r["cpu"])
            print(row(name, size, r, final), flush=True)
            if name == "stream":
                worst["core"] = max(worst["core"], r["cpu"] / (r["chunks"] / RATE) * 100)
                worst["p99"] = max(worst["p99"], pct(r["times"], .99))
                worst["ratio"] = max(worst["ratio"], r["bytes"] / final)
        print(f"{'final':<8}{size:>8}{'':>58}{final / 1e6:>9.2f}")
    print("growth exponent of CPU between sizes:")
    exponents = []
    for name, values in cpu.items():
        steps = [(a, b, math.log(y / x) / math.log(b / a))
                 for (a, x), (b, y) in itertools.pairwise(zip(sizes, values, strict=True))]
        exponents += [e for _, _, e in steps] if name == "stream" else []
        print(f"  {name:<8}" + "   ".join(f"{a}->{b}: {e:.2f}" for a, b, e in steps))
    targets = [("growth exponent <= 1.15", max(exponents, default=0), 1.15),
               ("per-chunk p99 <= 5 ms", worst["p99"], 5.0),
               ("bytes written <= 20x the final render", worst["ratio"], 20.0)]
    print("stream targets (worst size):")
    missed: list[str] = []
    for label, value, limit in targets:
        print(f"  {label:<40}{value:8.2f}  {'ok' if value <= limit else 'MISSED'}")
        missed += [f"{label} ({value:.2f})"] if value > limit else []
    print(f"  {'CPU < 2% of a core':<40}{worst['core']:8.2f}  (not a target: the notes' figure, for comparison)")
    print("one huge block, renderer only (not in the targets: each redraw stays bounded; code lines and list items"
          " print as they complete, a table's rows when it ends):")
    for name, text in huge_blocks(500 if args.quick else 2000):
        r = run_stream(text)
        print(row(name, len(text), r, final_bytes(text)), flush=True)
    print("~ = extrapolated from the chunks measured within the naive approach's CPU budget")
    print("missed: " + "; ".join(missed) if missed else "all targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
