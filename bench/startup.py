"""Start-up cost: `chat --help`, and `chat ask` against a bare openai-SDK script making the same call.

Runs everything against the loopback fake server from tests/, so no network is needed.
Targets (medians): `chat --help` < 100 ms, `chat ask` / bare script <= 1.20, REPL prompt visible
< 250 ms; the last line says `all targets met` or `missed: ...` (exit status 1). A full run (15
rounds) takes a minute or two; --quick runs 3 rounds.

Usage, from the repository root: python -m bench.startup [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fakeserver import FakeServer, dashscope_text
from tests.ptyharness import Tty

BARE = """
import os, sys
from openai import OpenAI
client = OpenAI(api_key=os.environ["DASHSCOPE_API_KEY"], base_url=sys.argv[1])
stream = client.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": "hi"}],
                                        stream=True, stream_options={"include_usage": True})
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        sys.stdout.write(chunk.choices[0].delta.content)
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.decode()}")
    return elapsed


def repl_prompt_time(env: dict[str, str]) -> float:
    """Seconds from launching `chat` in a pseudo-terminal until its prompt is on screen."""
    start = time.perf_counter()
    tty = Tty(env)
    try:
        tty.wait_for(lambda: tty.cursor_line().startswith("qwen:qwen-plus>"), timeout=20, what="prompt")
        return time.perf_counter() - start
    finally:
        tty.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: 3 rounds")
    parser.add_argument("--runs", type=int, help="rounds, each timing every command once (default 15, quick 3)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 15)
    with tempfile.TemporaryDirectory() as tmp, FakeServer() as srv:
        config = Path(tmp) / "config.toml"
        base = srv.url + "/compatible-mode/v1"
        config.write_text(f'[providers.qwen]\nbase_url = "{base}"\n')
        env = {**os.environ, "CHATCLI_CONFIG": str(config), "DASHSCOPE_API_KEY": "sk-bench", "NO_PROXY": "127.0.0.1"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure as installed: with cached bytecode
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE)
        chat = [sys.executable, "-m", "chatcli"]

        env["XDG_STATE_HOME"] = tmp
        helps, asks, bares, prompts = [], [], [], []
        srv.queue(dashscope_text(["warm-up"]), dashscope_text(["warm-up"]))  # first runs write the bytecode
        timed(chat + ["ask", "hi"], env)
        timed([sys.executable, str(bare), base], env)
        for _ in range(runs):  # interleaved, so machine noise hits both alike
            helps.append(timed(chat + ["--help"], env))
            srv.queue(dashscope_text(["Hello", " there"]))
            asks.append(timed(chat + ["ask", "hi"], env))
            srv.queue(dashscope_text(["Hello", " there"]))
            bares.append(timed([sys.executable, str(bare), base], env))
            prompts.append(repl_prompt_time(env))

    med = statistics.median
    ratio = med(asks) / med(bares)
    checks = [("chat --help median < 100 ms", f"{med(helps) * 1000:.1f} ms", med(helps) < 0.100),
              ("chat ask / bare median <= 1.20", f"{ratio:.2f}x", ratio <= 1.20),
              ("REPL prompt visible median < 250 ms", f"{med(prompts) * 1000:.1f} ms", med(prompts) < 0.250)]
    missed = [f"{label} ({shown})" for label, shown, ok in checks if not ok]
    print(f"runs: {runs} each (median, min)")
    print(f"chat --help:           {med(helps) * 1000:7.1f} ms  {min(helps) * 1000:7.1f} ms   (target < 100 ms)")
    print(f"bare openai script:    {med(bares) * 1000:7.1f} ms  {min(bares) * 1000:7.1f} ms")
    print(f"chat ask:              {med(asks) * 1000:7.1f} ms  {min(asks) * 1000:7.1f} ms")
    print(f"chat ask / bare:       {ratio:7.2f}x  {min(asks) / min(bares):7.2f}x   (target <= 1.20x)")
    print(f"REPL prompt visible:   {med(prompts) * 1000:7.1f} ms  {min(prompts) * 1000:7.1f} ms   (target < 250 ms)")
    print("missed: " + "; ".join(missed) if missed else "all targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
