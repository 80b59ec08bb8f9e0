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
    except click.exceptions.Exit as err:
        return int(err.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        term.error("interrupted")
        return ExitCode.INTERRUPTED
    except click.ClickException as err:  # bad flags, missing arguments
        term.error(f"{err.format_message()} (see chat --help)")
        return int(err.exit_code)
    except Exception as err:  # Typer's own click: its exceptions are not click's
        return _typer_failure(err, term)


def _typer_failure(err: Exception, term: Terminal) -> int:
    """A failure inside a Typer sub-app (`chat config`, `chat sessions`)."""
    from typer import Abort, Exit
    from typer._click.exceptions import ClickException, NoArgsIsHelpError

    if isinstance(err, NoArgsIsHelpError):  # `chat config` alone: its help is the answer
        click.echo(err.format_message())
        return ExitCode.OK
    if isinstance(err, ClickException):
        term.error(f"{err.format_message()} (see chat --help)")
        return int(err.exit_code)
    if isinstance(err, Exit):
        return int(err.exit_code)
    if isinstance(err, Abort):
        term.error("interrupted")
        return ExitCode.INTERRUPTED
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
