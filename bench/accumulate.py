"""Text accumulation: a very long answer through the session, the native parser and the renderers.

An answer of N chunks of 1,000 characters (short paragraphs of prose) is played by an in-process
provider through `ChatSession.send` (the turn and the history keep it), the native DashScope
assembler, the plain renderer (a pipe) and the markdown renderer (a non-interactive console, as
`chat ask --markdown | less` uses it). Each path is timed at N/10 and N chunks; the CPU growth
exponent between them shows whether the cost is linear (1.0) or quadratic (2.0). Targets: every
path grows with an exponent <= 1.2, and the paths that only carry the text (session, native,
plain) take < 10 s at 30,000 chunks; the markdown renderer's total is Rich formatting 30 MB of
paragraphs (about 0.3 ms each), printed but not a target. The last line says `all targets met`
or `missed: ...` (exit status 1). A full run takes a few minutes (the markdown renderer);
--quick uses 3,000 chunks.

Usage, from the repository root: python -m bench.accumulate [--quick] [--chunks N]
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from chatcli.config import Config, ProviderConfig
from chatcli.core.messages import ChatRequest, Event, Finish, TextDelta

SIZE, TARGET_S, TARGET_EXP = 1000, 10.0, 1.2
LINE = "流式输出的文本按块到达，拼接必须是线性的。The answer grows chunk by chunk, linear in its length.\n\n"


def chunks(n: int) -> Iterator[str]:
    text = (LINE * (SIZE // len(LINE) + 1))[:SIZE]
    return (text for _ in range(n))


def via_session(n: int) -> None:
    """The turn engine: every delta kept by the turn and the history, as `chat ask` and the REPL do."""
    from chatcli.app.session import ChatSession
    from chatcli.providers.base import Provider

    class Played(Provider):
        def _open(self, request: ChatRequest) -> Iterator[Event]:
            yield from (TextDelta(text) for text in chunks(n))
            yield Finish("stop")

    pcfg = ProviderConfig(name="bench", kind="openai", base_url=None, model="m")
    cfg = Config(path=Path("/nonexistent"), exists=False, default_provider="bench", providers={"bench": pcfg})
    session = ChatSession(cfg, providers={"bench": Played(pcfg)}, tools=False)
    for _ in session.send("go"):
        pass
    assert len(session.last.content) == n * SIZE if session.last else False


def via_native(n: int) -> None:
    """The native DashScope assembler on incremental events."""
    from chatcli.providers.native import NativeAssembler

    asm = NativeAssembler(incremental=True)
    got = 0
    for text in chunks(n):
        payload = {"output": {"choices": [{"message": {"role": "assistant", "content": text},
                                           "finish_reason": "null"}]}}
        for event in asm.feed(payload):
            got += len(event.text) if isinstance(event, TextDelta) else 0
    assert got == n * SIZE, got


def via_plain(n: int) -> None:
    """The plain renderer writing to a pipe."""
    from chatcli.ui.render import PlainRenderer

    renderer = PlainRenderer(io.StringIO())
    for text in chunks(n):
        renderer.handle(TextDelta(text))


def via_markdown(n: int) -> None:
    """The markdown renderer on a non-terminal console (prose: a long code block costs Rich's highlighting)."""
    from rich.console import Console

    from chatcli.ui.mdstream import MarkdownRenderer

    console = Console(file=io.StringIO(), width=100, force_terminal=False, color_system=None)
    renderer = MarkdownRenderer(console)
    for text in chunks(n):
        renderer.handle(TextDelta(text))
    renderer.close()


PATHS: dict[str, tuple[Callable[[int], None], bool]] = {  # name: (path, whether its total is a target)
    "session": (via_session, True), "native": (via_native, True), "plain": (via_plain, True),
    "markdown": (via_markdown, False),
}


def cpu(fn: Callable[[int], None], n: int) -> float:
    start = time.process_time()
    fn(n)
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 chunks")
    parser.add_argument("--chunks", type=int, default=30_000)
    args = parser.parse_args(argv)
    n = 3_000 if args.quick else args.chunks
    small = max(1, n // 10)
    print(f"{n:,} chunks of {SIZE:,} characters ({n * SIZE / 1e6:.0f} MB of text); growth from {small:,} chunks")
    missed = []
    for name, (fn, timed) in PATHS.items():
        fn(min(small, 100))  # warm-up: imports, parser set-up
        a, b = cpu(fn, small), cpu(fn, n)
        exponent = math.log(b / a) / math.log(n / small) if a > 0 and b > 0 else 1.0
        ok = exponent <= TARGET_EXP and (not timed or b < TARGET_S * n / 30_000)
        print(f"  {name:<9} {b:7.2f} s CPU   growth exponent {exponent:4.2f}   {'ok' if ok else 'MISSED'}")
        if not ok:
            missed.append(name)
    print("all targets met" if not missed else f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
