"""The command tree: a bare `chat` is the session, flags are declared once for `chat` and `chat ask`."""

from __future__ import annotations

import io
import subprocess
import sys

import click
import pytest

from chatcli.cli import flags
from chatcli.cli.app import SESSION_COMMAND, cli
from chatcli.cli.groups import TYPER_APPS
from chatcli.cli.main import run
from chatcli.ui.terminal import Terminal


def names(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts) if isinstance(p, click.Option)}


def test_session_and_ask_share_every_common_flag():
    shared = {opt for p in [*flags.CHOICE, *flags.GENERATION, *flags.CONSENT] for opt in (*p.opts, *p.secondary_opts)}
    session, ask = cli.commands[SESSION_COMMAND], cli.commands["ask"]
    assert shared <= names(session) and shared <= names(ask)
    assert names(session) - shared == {"--resume"}
    assert {"--json", "--raw", "--markdown", "--image", "--file", "--video", "--no-stream"} <= names(ask) - shared


def invoke(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    term = Terminal(out, err, stdin=io.StringIO(), environ={})
    code = run(list(argv), term)
    return code, out.getvalue(), err.getvalue()


def test_help_shows_the_session_options_and_every_command(capsys):
    code, _, _ = invoke("--help")
    shown = capsys.readouterr().out
    assert code == 0
    for opt in ("--provider", "--temperature", "--think / --no-think", "--resume", "--version"):
        assert opt in shown
    for command in ("ask", "providers", "tools", *TYPER_APPS):
        assert f"\n  {command} " in shown
    assert f"\n  {SESSION_COMMAND} " not in shown  # the default command is not listed


def test_bad_flag_values_are_one_line_usage_errors():
    code, _, err = invoke("--seed", "abc")
    assert (code, err) == (2, "chat: --seed needs a whole number (got 'abc')\n")
    code, _, err = invoke("ask", "--temperature", "warm", "hi")
    assert (code, err) == (2, "chat: --temperature needs a number (got 'warm')\n")
    code, _, err = invoke("--no-such-flag")
    assert code == 2 and err.startswith("chat: No such option '--no-such-flag'") and err.count("\n") == 1


def test_a_bare_word_is_no_command():
    code, _, err = invoke("hello")
    assert code == 2 and err.startswith("chat: no such command 'hello'") and 'chat ask "..."' in err


def test_continue_and_resume_together_are_refused():
    code, _, err = invoke("-c", "--resume", "abcd")
    assert (code, err) == (2, "chat: give either --continue or --resume ID, not both\n")


@pytest.mark.parametrize("args", [["--config", "{path}", "config", "path"], ["config", "path", "--config", "{path}"]])
def test_config_before_or_after_the_command(tmp_path, args):
    path = str(tmp_path / "mine.toml")
    proc = subprocess.run([sys.executable, "-m", "chatcli", *(a.format(path=path) for a in args)],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, path + "\n", "")


def test_version(capsys):
    from chatcli import __version__

    assert invoke("--version")[0] == 0
    assert capsys.readouterr().out == f"chat {__version__}\n"
