"""Shared fixtures: a loopback provider server and an isolated environment for `chat`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fakeserver import FakeServer

if TYPE_CHECKING:
    from tests.ptyharness import Tty

DASHSCOPE_KEY = "sk-test-dashscope-0123456789"
ZHIPU_KEY = "zk-test-zhipu.0123456789"


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


@dataclass
class ChatEnv:
    """An isolated home, config and environment pointing every provider at the fake server."""

    home: Path
    config: Path
    env: dict[str, str]

    def run(self, *args: str, input: bytes | str | None = None, timeout: float = 30,
            stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
        """Run `python -m chatcli ARGS` and capture its output as text."""
        if isinstance(input, str):
            input = input.encode()
        proc = subprocess.run(
            [sys.executable, "-m", "chatcli", *args],
            input=input,
            stdin=None if input is not None else stdin,
            capture_output=True,
            env=self.env,
            timeout=timeout,
        )
        return subprocess.CompletedProcess(
            proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        )


def make_env(tmp_path: Path, base_url: str) -> ChatEnv:
    home = tmp_path / "home"
    (home / ".config" / "chatcli").mkdir(parents=True)
    config = home / ".config" / "chatcli" / "config.toml"
    config.write_text(
        f"""default_provider = "qwen"

[providers.qwen]
base_url = "{base_url}/compatible-mode/v1"

[providers.zhipu]
base_url = "{base_url}/api/paas/v4"

[providers.local]
kind = "openai"
base_url = "{base_url}/v1"
model = "llama-test"
api_key_env = ""

[tools.weather]  # never the real service from tests
geocoding_url = "{base_url}/v1/search"
forecast_url = "{base_url}/v1/forecast"
timeout = 2
""",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k.upper() not in {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}
           and not k.startswith(("CHATCLI_", "ZHIPUAI_", "OPENAI_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        DASHSCOPE_API_KEY=DASHSCOPE_KEY,
        ZHIPUAI_API_KEY=ZHIPU_KEY,
        NO_PROXY="127.0.0.1,localhost",
        PYTHONIOENCODING="utf-8",
        TERM="xterm-256color",
    )
    for name in ("NO_COLOR", "COLUMNS", "LINES"):  # the pty's real size must decide the layout
        env.pop(name, None)
    return ChatEnv(home, config, env)


@pytest.fixture
def chat(tmp_path: Path, server: FakeServer) -> ChatEnv:
    return make_env(tmp_path, server.url)


@pytest.fixture
def term(chat: ChatEnv) -> Iterator[Callable[..., Tty]]:
    """Start `chat ARGS` in a pseudo-terminal (tests.ptyharness.Tty); each is closed after the test."""
    from tests.ptyharness import Tty

    started: list[Tty] = []

    def spawn(*args: str) -> Tty:
        started.append(Tty(chat.env, *args))
        return started[-1]

    yield spawn
    for tty in started:
        tty.close()
