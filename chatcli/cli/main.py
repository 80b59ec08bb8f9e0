"""The one error boundary: run the command tree, turn every failure into one line and an exit code.

ChatError: its message and exit code. Ctrl-C: 130. SIGTERM/SIGHUP (`Terminated`): 143/129. A
closed stdout: a quiet 141. Anything else is a bug: one `internal error` line naming the crash
log that holds the traceback (chatcli.cli.crash, imported only then), exit 70.
"""

from __future__ import annotations

import os
import sys

import click

from chatcli.errors import ChatError, ExitCode, Terminated
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
    except Terminated as sig:
        return terminated(sig, term)
    except BrokenPipeError:
        raise  # main() ends quietly
    except Exception as err:  # click's, those of the click Typer ships (chat config, chat sessions), or a bug
        return _click_failure(err, term)


def terminated(sig: Terminated, term: Terminal) -> int:
    """SIGTERM or SIGHUP: one line if stderr is still there (after a hang-up it may not be), 128 + signal."""
    from chatcli.app.signals import reason

    try:
        term.error(reason(sig.signum))
    except (OSError, ValueError):
        pass
    return sig.exit_code


def internal_error(err: BaseException, term: Terminal) -> int:
    """A bug: the traceback to the crash log, one line on stderr, exit 70."""
    from chatcli.cli import crash

    return crash.report(err, term)


def _click_failure(err: Exception, term: Terminal) -> int:
    """The exit status for a click exception, told apart by name: Typer's are not click's classes."""
    kind, code = type(err).__name__, getattr(err, "exit_code", None)
    if not isinstance(code, int):
        return internal_error(err, term)
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
    return internal_error(err, term)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every failure into one line and an exit code."""
    term = Terminal()
    if "_CHAT_COMPLETE" in os.environ:  # the shell asks for completions (chatcli.cli.completion)
        from chatcli.cli.app import cli
        from chatcli.cli.completion import complete

        sys.exit(complete(cli))
    try:
        code = run(sys.argv[1:] if argv is None else argv, term)
    except BrokenPipeError:
        code = BROKEN_PIPE
    except Terminated as sig:  # arrived while a failure was being reported
        code = terminated(sig, term)
    gone = code == BROKEN_PIPE
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code, gone = BROKEN_PIPE, True
    except Terminated as sig:
        code = terminated(sig, term)
    except OSError:  # the terminal went away with a hang-up: nothing more can be said there
        gone = True
    if gone:  # the reader went away (`| head`): stop quietly, without Python's own complaint at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(code)
