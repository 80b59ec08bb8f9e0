"""The one error boundary: run the command tree, turn every failure into one line and an exit code."""

from __future__ import annotations

import os
import sys

import click

from chatcli.errors import ChatError, ExitCode
from chatcli.ui.terminal import Terminal

BROKEN_PIPE = 141  # like a process killed by SIGPIPE


def run(argv: list[str], term: Terminal) -> int:
    """The exit status of one command line; failures are reported on the terminal's stderr."""
    from chatcli.cli.app import cli

    try:
        # Not cli.main(): it would turn a closed pipe into exit 1 and print a blank line on Ctrl-C.
        with cli.make_context("chat", list(argv)) as ctx:
            result = cli.invoke(ctx)
        code = result if isinstance(result, int) else ExitCode.OK
        if code == ExitCode.INTERRUPTED:  # a stray Ctrl-C inside a Typer command ends as a silent 130
            term.error("interrupted")
        return int(code)
    except ChatError as err:
        term.error(err.message)
        return int(err.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        term.error("interrupted")
        return ExitCode.INTERRUPTED
    except Exception as err:  # click's, or those of the click Typer ships (chat config, chat sessions)
        return _click_failure(err, term)


def _click_failure(err: Exception, term: Terminal) -> int:
    """The exit status for a click exception, told apart by name: Typer's are not click's classes."""
    kind, code = type(err).__name__, getattr(err, "exit_code", None)
    if not isinstance(code, int):
        raise err
    if kind == "NoArgsIsHelpError":  # `chat config` alone: its help is the answer
        click.echo(err.format_message())  # type: ignore[attr-defined]
        return ExitCode.OK
    if kind == "Exit":
        return code
    if kind == "Abort":
        term.error("interrupted")
        return ExitCode.INTERRUPTED
    if hasattr(err, "format_message"):  # bad flags, missing arguments
        term.error(f"{err.format_message()} (see chat --help)")
        return code
    raise err


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every failure into one line and an exit code."""
    term = Terminal()
    try:
        code = run(sys.argv[1:] if argv is None else argv, term)
    except BrokenPipeError:
        code = BROKEN_PIPE
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = BROKEN_PIPE
    if code == BROKEN_PIPE:  # the reader went away (`| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(code)
