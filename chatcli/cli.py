"""The `chat` command line: flags to objects, and the one error boundary."""

from __future__ import annotations

import sys
from typing import Any, Optional

import typer

from chatcli import __version__
from chatcli.config_cmd import config_app, config_arg, providers_command
from chatcli.errors import ChatError, ExitCode

app = typer.Typer(
    name="chat",
    help="Chat with Qwen (DashScope), GLM (Zhipu) and OpenAI-compatible models from the terminal.",
    rich_markup_mode=None,  # plain help: rich's help formatter imports rich.markdown (slow start-up)
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ConfigOpt = typer.Option(None, "--config", metavar="PATH", help="Config file (default: $CHATCLI_CONFIG or the XDG config dir).")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chat {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    config: Optional[str] = ConfigOpt,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Chat with Qwen (DashScope), GLM (Zhipu) and OpenAI-compatible models from the terminal."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


@app.command()
def ask(
    ctx: typer.Context,
    prompt: Optional[list[str]] = typer.Argument(None, help="The question. Piped stdin is added as context."),
    provider: Optional[str] = typer.Option(None, "-p", "--provider", help="Provider name from config or a preset."),
    model: Optional[str] = typer.Option(None, "-m", "--model", help="Model (default: the provider's)."),
    system: Optional[str] = typer.Option(None, "-s", "--system", help="System prompt."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the whole result."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for the whole answer instead of streaming."),
    no_tools: bool = typer.Option(False, "--no-tools", help="Offer the model no local tools."),
    config: Optional[str] = ConfigOpt,
) -> None:
    """Ask one question and print the answer; piped stdin is added as context."""
    from chatcli.ask import AskOptions, run_ask

    try:
        code = run_ask(AskOptions(
            prompt=" ".join(prompt or []).strip(),
            provider=provider,
            model=model,
            system=system,
            as_json=as_json,
            stream=not no_stream,
            tools=not no_tools,
            config=config_arg(ctx, config),
        ))
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, like SIGPIPE would
        raise typer.Exit(141) from None
    if code:
        raise typer.Exit(int(code))


@app.command("providers")
def providers_cmd(ctx: typer.Context, config: Optional[str] = ConfigOpt) -> None:
    """List the configured providers, their models and whether their keys are set."""
    providers_command(config_arg(ctx, config))


@app.command("tools")
def tools_cmd(ctx: typer.Context, config: Optional[str] = ConfigOpt) -> None:
    """List the local tools the model may call, with their parameters."""
    from chatcli.tools.listing import print_tools

    print_tools(config_arg(ctx, config))


app.add_typer(config_app, name="config", help="Show or change the configuration file.")


def _click_errors() -> tuple[type[BaseException], type[BaseException]]:
    try:  # typer >= 0.20 vendors click
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover - older typer with the click package
        from click.exceptions import ClickException
    return ClickException, typer.Abort


def error_line(message: str) -> None:
    """The one line a failure prints on stderr."""
    from chatcli.sanitize import strip_controls

    sys.stderr.write(f"chat: {strip_controls(message)}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every failure into one line and an exit code."""
    ClickException, Abort = _click_errors()
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="chat", standalone_mode=False)
        code = result if isinstance(result, int) else 0
        if code == ExitCode.INTERRUPTED:  # typer turns a stray Ctrl-C into a silent 130
            error_line("interrupted")
    except ChatError as err:
        error_line(err.message)
        code = err.exit_code
    except ClickException as err:  # bad flags, missing arguments
        if type(err).__name__ == "NoArgsIsHelpError":  # `chat config` alone: its help is the answer
            typer.echo(err.format_message())
            code = ExitCode.OK
        else:
            error_line(f"{err.format_message()} (see chat --help)")
            code = getattr(err, "exit_code", ExitCode.USAGE)
    except (KeyboardInterrupt, Abort):
        error_line("interrupted")
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        code = 141  # like a process killed by SIGPIPE, quietly
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = 141
    sys.exit(int(code))


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())

