"""Start-up cost: `chat --help`, and `chat ask` against a bare openai-SDK script making the same call.

Runs everything against the loopback fake server from tests/, so no network is needed.
Usage: python bench/startup.py [--runs N]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
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
    print(f"runs: {runs} each (median, min)")
    print(f"chat --help:           {med(helps) * 1000:7.1f} ms  {min(helps) * 1000:7.1f} ms   (target < 250 ms)")
    print(f"bare openai script:    {med(bares) * 1000:7.1f} ms  {min(bares) * 1000:7.1f} ms")
    print(f"chat ask:              {med(asks) * 1000:7.1f} ms  {min(asks) * 1000:7.1f} ms")
    print(f"chat ask / bare:       {med(asks) / med(bares):7.2f}x  {min(asks) / min(bares):7.2f}x   (target <= 1.20x)")
    print(f"REPL prompt visible:   {med(prompts) * 1000:7.1f} ms  {min(prompts) * 1000:7.1f} ms   (target < 300 ms)")


if __name__ == "__main__":
    main()
