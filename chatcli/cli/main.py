"""The `chat` command line: flags to objects, and the one error boundary."""

from __future__ import annotations

import sys
from typing import Any

import typer

from chatcli import __version__
from chatcli.cli.config_cmd import config_app, config_arg, providers_command
from chatcli.cli.sessions_cmd import sessions_app
from chatcli.errors import ChatError, ExitCode, UsageError

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

# The generation flags, the same on the session (`chat`) and on `chat ask`.
TemperatureOpt = typer.Option(None, "--temperature", help="Sampling temperature, 0 to <2.")
TopPOpt = typer.Option(None, "--top-p", help="Nucleus sampling threshold, >0 to 1.")
MaxTokensOpt = typer.Option(None, "--max-tokens", help="Longest answer, in tokens.")
SeedOpt = typer.Option(None, "--seed", help="Random seed (0 to 2**64-1) for repeatable answers.")
StopOpt = typer.Option(None, "--stop", metavar="TEXT", help="Stop before this text (repeatable).")
PresencePenaltyOpt = typer.Option(None, "--presence-penalty", help="-2 to 2; higher repeats less.")
SearchOpt = typer.Option(None, "--search/--no-search", help="Let the model search the web (DashScope, Zhipu).")
ThinkOpt = typer.Option(None, "--think/--no-think", help="Ask the model to reason first, or not.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chat {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    provider: str | None = typer.Option(None, "-p", "--provider", help="Provider to start with."),
    model: str | None = typer.Option(None, "-m", "--model", help="Model to start with."),
    system: str | None = typer.Option(None, "-s", "--system", help="System prompt."),
    cont: bool = typer.Option(False, "-c", "--continue", help="Continue the last conversation."),
    resume: str | None = typer.Option(None, "--resume", metavar="ID", help="Continue a saved conversation."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not save this conversation."),
    temperature: float | None = TemperatureOpt,
    top_p: float | None = TopPOpt,
    max_tokens: int | None = MaxTokensOpt,
    seed: int | None = SeedOpt,
    stop: list[str] | None = StopOpt,
    presence_penalty: float | None = PresencePenaltyOpt,
    search: bool | None = SearchOpt,
    think: bool | None = ThinkOpt,
    config: str | None = ConfigOpt,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Chat with Qwen (DashScope), GLM (Zhipu) and OpenAI-compatible models from the terminal.

    With no command, starts an interactive session.
    """
    if ctx.invoked_subcommand is None:
        raise typer.Exit(start_session(dict(provider=provider, model=model, system=system, config=config,
                                            resume=resume, cont=cont, no_save=no_save, temperature=temperature,
                                            top_p=top_p, max_tokens=max_tokens, seed=seed, stop=stop,
                                            presence_penalty=presence_penalty, search=search, think=think)))


def start_session(opts: dict) -> int:
    """`chat` with no command: the REPL in a terminal, one answer for piped input."""
    if opts.get("cont") and opts.get("resume"):
        raise UsageError("give either --continue or --resume ID, not both")
    resume = opts.get("resume") or ("" if opts.get("cont") else None)
    generation = _session_generation(opts)
    if not sys.stdin.isatty():  # `echo question | chat`: answer once, as `chat ask` would
        from chatcli.app.ask import AskOptions, run_ask

        return int(run_ask(AskOptions(prompt="", provider=opts.get("provider"), model=opts.get("model"),
                                      system=opts.get("system"), config=opts.get("config"),
                                      generation=generation)))
    from chatcli.config import load_config
    from chatcli.repl.loop import run_repl

    return run_repl(load_config(opts.get("config")), opts.get("provider"), opts.get("model"), opts.get("system"),
                    resume=resume, save=not opts.get("no_save"), generation=generation)


def _session_generation(opts: dict) -> Any:
    """The generation options of a bare `chat` (strings from the fast path, numbers from Typer)."""
    from chatcli.config.limits import flag
    from chatcli.core.options import GenerationOptions

    values: dict[str, Any] = {}
    for name, kind in _SESSION_NUMBERS.items():
        value = opts.get(name)
        if value is not None:
            try:
                values[name] = kind(value)
            except ValueError:
                what = "a whole number" if kind is int else "a number"
                raise UsageError(f"{flag(name)} needs {what} (got {value!r})") from None
    return GenerationOptions(**values, stop=list(opts.get("stop") or []), search=opts.get("search"),
                             think=opts.get("think"))


# The options of a bare `chat`. Parsed by hand so the REPL skips Typer's per-parameter
# validation, which imports pydantic (~70 ms) before the prompt could show.
_SESSION_OPTIONS = {"-p": "provider", "--provider": "provider", "-m": "model", "--model": "model",
                    "-s": "system", "--system": "system", "--config": "config", "--resume": "resume"}
_SESSION_FLAGS = {"-c": "cont", "--continue": "cont", "--no-save": "no_save"}
_SESSION_NUMBERS = {"temperature": float, "top_p": float, "max_tokens": int, "seed": int, "presence_penalty": float}
_SESSION_VALUES = {"--" + name.replace("_", "-"): name for name in [*_SESSION_NUMBERS, "stop"]}
_SESSION_SWITCHES = {"--search": ("search", True), "--no-search": ("search", False),
                     "--think": ("think", True), "--no-think": ("think", False)}


def _session_args(argv: list[str]) -> dict[str, Any] | None:
    """The options of a bare `chat [-p NAME] [-m MODEL] [-s TEXT] [-c] ...`, or None for anything else."""
    found: dict[str, Any] = {}
    args = iter(argv)
    for arg in args:
        if arg in _SESSION_FLAGS:
            found[_SESSION_FLAGS[arg]] = True
            continue
        if arg in _SESSION_SWITCHES:
            key, on = _SESSION_SWITCHES[arg]
            found[key] = on
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        key = _SESSION_OPTIONS.get(name) or _SESSION_VALUES.get(name)
        if key is None:
            return None
        if not eq:
            value = next(args, None)  # type: ignore[assignment]
            if value is None:
                return None
        if key == "stop":
            found.setdefault("stop", []).append(value)
        else:
            found[key] = value
    return found


@app.command()
def ask(
    ctx: typer.Context,
    prompt: list[str] | None = typer.Argument(None, help="The question. Piped stdin is added as context."),
    provider: str | None = typer.Option(None, "-p", "--provider", help="Provider name from config or a preset."),
    model: str | None = typer.Option(None, "-m", "--model", help="Model (default: the provider's)."),
    system: str | None = typer.Option(None, "-s", "--system", help="System prompt."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the whole result."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for the whole answer instead of streaming."),
    no_tools: bool = typer.Option(False, "--no-tools", help="Offer the model no local tools."),
    raw: bool = typer.Option(False, "--raw", help="Print the answer's text as it arrives, even on a terminal."),
    markdown: bool = typer.Option(False, "--markdown", help="Render the answer as markdown, even to a pipe."),
    cont: bool = typer.Option(False, "-c", "--continue", help="Continue the last saved conversation."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not save this exchange."),
    temperature: float | None = TemperatureOpt,
    top_p: float | None = TopPOpt,
    max_tokens: int | None = MaxTokensOpt,
    seed: int | None = SeedOpt,
    stop: list[str] | None = StopOpt,
    presence_penalty: float | None = PresencePenaltyOpt,
    search: bool | None = SearchOpt,
    think: bool | None = ThinkOpt,
    json_object: bool = typer.Option(False, "--json-object", help="Ask for a JSON object; fail if the answer does not parse."),
    usage: bool = typer.Option(False, "--usage", help="Print tokens in/out (and cost, with [prices]) on stderr."),
    image: list[str] | None = typer.Option(
        None, "--image", metavar="PATH|URL",
        help="Attach an image (repeatable): a local file (sent as a data: URL) or a URL. For vision models "
             "such as qwen-vl-max or glm-4v-plus."),
    video: list[str] | None = typer.Option(
        None, "--video", metavar="FRAME|DIR",
        help="Add a frame of one video (repeatable): an image file or URL, or a directory of frames in name "
             "order. DashScope qwen-vl models."),
    file: list[str] | None = typer.Option(
        None, "--file", metavar="PATH",
        help="Attach a file (repeatable). Text and code go into the message, fenced and named; pdf, docx, "
             "xlsx... are uploaded: DashScope's qwen-long reads them by file id, Zhipu adds the extracted text."),
    config: str | None = ConfigOpt,
) -> None:
    """Ask one question and print the answer; piped stdin is added as context."""
    from chatcli.app.ask import AskOptions, run_ask
    from chatcli.core.options import GenerationOptions

    if raw and markdown:
        from chatcli.errors import UsageError

        raise UsageError("--raw and --markdown cannot be used together")
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
            mode="raw" if raw else "markdown" if markdown else "auto",
            cont=cont,
            save=not no_save,
            generation=GenerationOptions(temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed,
                                         stop=list(stop or []), presence_penalty=presence_penalty, search=search,
                                         think=think, json_object=json_object),
            usage=usage,
            images=list(image or []),
            videos=list(video or []),
            files=list(file or []),
        ))
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, like SIGPIPE would
        raise typer.Exit(141) from None
    if code:
        raise typer.Exit(int(code))


@app.command("providers")
def providers_cmd(ctx: typer.Context, config: str | None = ConfigOpt) -> None:
    """List the configured providers, their models and whether their keys are set."""
    providers_command(config_arg(ctx, config))


@app.command("tools")
def tools_cmd(ctx: typer.Context, config: str | None = ConfigOpt) -> None:
    """List the local tools the model may call, with their parameters."""
    from chatcli.cli.tools_cmd import print_tools

    print_tools(config_arg(ctx, config))


app.add_typer(config_app, name="config", help="Show or change the configuration file.")
app.add_typer(sessions_app, name="sessions", help="List, show, search, export or delete saved conversations.")


def _click_errors() -> tuple[type[BaseException], type[BaseException]]:
    try:  # typer >= 0.20 vendors click
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover - older typer with the click package
        from click.exceptions import ClickException
    return ClickException, typer.Abort


def error_line(message: str) -> None:
    """The one line a failure prints on stderr."""
    from chatcli.ui.sanitize import strip_controls

    sys.stderr.write(f"chat: {strip_controls(message)}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every failure into one line and an exit code."""
    ClickException, Abort = _click_errors()
    argv = sys.argv[1:] if argv is None else argv
    session = _session_args(argv)
    try:
        if session is not None:
            code = start_session(session)
        else:
            group = typer.main.get_command(app)
            # `chat ask ...`: run the command alone. Parsing the root's options costs ~100 ms
            # (Typer validates each through pydantic), and they only matter before a command.
            command = group.commands.get(argv[0]) if argv else None  # type: ignore[attr-defined]
            if command is not None:
                result = command.main(args=argv[1:], prog_name=f"chat {argv[0]}", standalone_mode=False,
                                      help_option_names=["-h", "--help"])
            else:
                result = group.main(args=argv, prog_name="chat", standalone_mode=False)
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

