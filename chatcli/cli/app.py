"""The `chat` command tree: a bare `chat` is the session (the default command), then ask and the rest.

`config` and `sessions` are Typer apps, loaded only when named; `chat --help` lists them from
the table below without importing them.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from chatcli import __version__
from chatcli.cli import flags
from chatcli.cli.groups import TYPER_APPS, summary

SESSION_COMMAND = "session"  # the hidden default command
HELP = "Chat with Qwen (DashScope), GLM (Zhipu) and OpenAI-compatible models from the terminal."
_GROUP_ARGS = {"--version", "-h", "--help"}


class TyperApp(click.Command):
    """A Typer sub-app behind a name: the rest of the command line goes to it as it is."""

    def __init__(self, name: str, module: str, attr: str, help: str) -> None:
        super().__init__(name, help=help, short_help=help, add_help_option=False,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
        self.target = (module, attr)

    def invoke(self, ctx: click.Context) -> Any:
        import typer

        app = getattr(importlib.import_module(self.target[0]), self.target[1])
        command = typer.main.get_command(app)
        # Not command.main(): it would turn a closed pipe (`chat sessions list | head`) into exit 1.
        with command.make_context(ctx.info_name, list(ctx.args), parent=ctx.parent,  # type: ignore[arg-type]
                                  help_option_names=["-h", "--help"]) as sub:
            return command.invoke(sub)


class ChatGroup(click.Group):
    """Routes a command line that names no command to the session, with all its options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        i, group_only = 0, False
        while i < len(args):
            if args[i] == "--config":
                i += 2
            elif args[i].startswith("--config="):
                i += 1
            elif args[i] in _GROUP_ARGS:
                group_only, i = True, i + 1
            elif args[i] == "--install-completion":  # an optional value: a shell name
                group_only = True
                i += 2 if i + 1 < len(args) and args[i + 1] in ("bash", "zsh", "fish") else 1
            else:
                break
        rest = args[i:]
        if ctx.resilient_parsing and not rest:  # completing `chat <TAB>`: offer the commands
            return super().parse_args(ctx, args)
        names_command = bool(rest) and rest[0] in self.commands
        if not names_command and not (group_only and not rest):
            args = [SESSION_COMMAND, *args]
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        """Commands and options; for `chat -<TAB>` the session's options too (a bare `chat` takes them)."""
        items = super().shell_complete(ctx, incomplete)
        if incomplete.startswith("-"):
            from click.shell_completion import CompletionItem

            session = self.commands[SESSION_COMMAND]
            seen = {item.value for item in items}
            items += [CompletionItem(name, help=p.help) for p in session.params if isinstance(p, click.Option)
                      for name in (*p.opts, *p.secondary_opts) if name.startswith(incomplete) and name not in seen]
        return items

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The session's options (what a bare `chat` takes), then the commands."""
        params = [p for p in (*self.commands[SESSION_COMMAND].params, *self.get_params(ctx))
                  if isinstance(p, click.Option)]
        records = [r for p in params if (r := p.get_help_record(ctx)) is not None]
        with formatter.section("Options"):
            formatter.write_dl(records)
        self.format_commands(ctx, formatter)


class _Summarized(click.Command):
    """A command listed in `chat --help` by its docstring's first clause (click would cut it mid-word)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.short_help = self.short_help or summary(self.help)


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"chat {__version__}")
        ctx.exit()


def _install_completion(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None and not ctx.resilient_parsing:
        from chatcli.cli import completion

        for line in completion.install(cli, value or completion.detect_shell()):
            click.echo(line)
        ctx.exit()


@click.group(cls=ChatGroup, name="chat", help=HELP + "\n\nWith no command, starts an interactive session.",
             subcommand_metavar="[COMMAND] [ARGS]...", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", expose_value=True, hidden=True)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version.")
@click.option("--install-completion", metavar="[SHELL]", is_flag=False, flag_value="", default=None,
              expose_value=False, is_eager=True, callback=_install_completion,
              help="Install shell completion for bash, zsh or fish (default: your $SHELL).")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    if config:  # `chat --config X COMMAND`: the file every command then reads
        if ctx.invoked_subcommand != "config":  # `config init` and `config path` may name a new file
            flags.existing_config(config)
        os.environ["CHATCLI_CONFIG"] = config


def _session(**values: Any) -> int:
    """`chat`: the REPL on a terminal, one answer for piped input."""
    from chatcli.cli.run import start_session

    return start_session(values)


def _ask(**values: Any) -> int:
    """Ask one question and print the answer; piped stdin is added as context."""
    from chatcli.cli.run import ask

    return ask(values)


cli.add_command(click.Command(SESSION_COMMAND, callback=_session, hidden=True, help=HELP,
                              params=[*flags.CHOICE, *flags.GENERATION, *flags.CONSENT, *flags.SESSION],
                              context_settings={"help_option_names": ["-h", "--help"]}))
cli.add_command(click.Command("ask", callback=_ask, help=_ask.__doc__, short_help=summary(_ask.__doc__),
                              params=[*flags.ASK[:1], *flags.CHOICE, *flags.ASK[1:], *flags.CONSENT, *flags.GENERATION],
                              context_settings={"help_option_names": ["-h", "--help"]}))


@cli.command("providers", cls=_Summarized, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", help=flags.CONFIG_HELP, callback=flags._config_flag)
def providers_cmd(config: str | None) -> None:
    """List the configured providers, their models and whether their keys are set."""
    from chatcli.cli.config_cmd import providers_command

    providers_command(config)


@cli.command("roles", cls=_Summarized, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", help=flags.CONFIG_HELP, callback=flags._config_flag)
def roles_cmd(config: str | None) -> None:
    """List the roles for -r and /role, with provider, model and description."""
    from chatcli.cli.roles_cmd import roles_command

    roles_command(config)


@cli.command("tools", cls=_Summarized, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", help=flags.CONFIG_HELP, callback=flags._config_flag)
def tools_cmd(config: str | None) -> None:
    """List the tools the model may call: the built-ins and each MCP server's, with their state."""
    from chatcli.cli.tools_cmd import print_tools

    print_tools(config)


@cli.command("mcp", cls=_Summarized, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("action", type=click.Choice(["list", "test"]))
@click.argument("name", required=False)
@click.option("--config", metavar="PATH", help=flags.CONFIG_HELP, callback=flags._config_flag)
def mcp_cmd(action: str, name: str | None, config: str | None) -> int:
    """List the MCP servers ([mcp.servers.NAME]), or start one and list its tools (test NAME)."""
    from chatcli.cli.tools_cmd import mcp_command

    return mcp_command(action, name, config)


@cli.command("video", cls=_Summarized, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("prompt", nargs=-1)
@click.option("-p", "--provider", metavar="NAME", help="A Zhipu provider (default: zhipu).",
              shell_complete=flags._complete("providers"))
@click.option("-m", "--model", metavar="MODEL", help="Video model (default: cogvideox).")
@click.option("--image-url", metavar="URL", help="Animate this image (a URL, or a data: URL).")
@click.option("--task", metavar="ID", help="Fetch the task a --no-wait run started (waiting unless --no-wait).")
@click.option("--wait/--no-wait", default=True, help="Wait for the video (default), or print the task id and exit.")
@click.option("--timeout", type=flags.Number(float), metavar="SECONDS", help="Stop waiting after this long (600).")
@click.option("--download", metavar="DIR", help="Save the video into DIR as TASK_ID.mp4 (never overwritten).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the result.")
@click.option("--config", metavar="PATH", help=flags.CONFIG_HELP, callback=flags._config_flag)
def video_cmd(**values: Any) -> int:
    """Make a short video from a prompt (Zhipu CogVideoX), wait for it and print its URL; --task ID fetches one."""
    from chatcli.cli.video_cmd import video_command

    return video_command(values)


@cli.command("doctor", cls=_Summarized, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", help=flags.CONFIG_HELP, callback=flags._config_flag)
@click.option("--quick", is_flag=True, help="Skip the one-token request to each model.")
@click.option("-p", "--provider", "providers", multiple=True, metavar="NAME",
              help="Check only this provider (repeatable).")
def doctor_cmd(config: str | None, quick: bool, providers: tuple[str, ...]) -> int:
    """Check config, keys, network, the clock and each model (proxy, DNS, TCP, TLS); paste it in a bug report."""
    from chatcli.cli.doctor import doctor

    return doctor(config, quick=quick, only=list(providers))


@cli.command("completion", cls=_Summarized, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("shell", metavar="SHELL", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish; e.g. eval "$(chat completion bash)"."""
    from chatcli.cli import completion

    click.echo(completion.source(cli, shell))


for _name, (_module, _attr, _help) in TYPER_APPS.items():
    cli.add_command(TyperApp(_name, _module, _attr, _help))
