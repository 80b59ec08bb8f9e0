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
from chatcli.cli.groups import TYPER_APPS

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
        with command.make_context(ctx.command_path, list(ctx.args), help_option_names=["-h", "--help"]) as sub:
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
            else:
                break
        rest = args[i:]
        names_command = bool(rest) and rest[0] in self.commands
        if not names_command and not (group_only and not rest):
            args = [SESSION_COMMAND, *args]
        return super().parse_args(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The session's options (what a bare `chat` takes), then the commands."""
        params = [*self.commands[SESSION_COMMAND].params, *self.get_params(ctx)]
        records = [r for p in params if (r := p.get_help_record(ctx)) is not None]
        with formatter.section("Options"):
            formatter.write_dl(records)
        self.format_commands(ctx, formatter)


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"chat {__version__}")
        ctx.exit()


@click.group(cls=ChatGroup, name="chat", help=HELP + "\n\nWith no command, starts an interactive session.",
             subcommand_metavar="[COMMAND] [ARGS]...", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", expose_value=True, hidden=True)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version.")
def cli(config: str | None) -> None:
    if config:  # `chat --config X COMMAND`: the file every command then reads
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
                              params=[*flags.CHOICE, *flags.GENERATION, *flags.SESSION],
                              context_settings={"help_option_names": ["-h", "--help"]}))
cli.add_command(click.Command("ask", callback=_ask, help=_ask.__doc__, short_help=_ask.__doc__,
                              params=[*flags.ASK[:1], *flags.CHOICE, *flags.ASK[1:], *flags.GENERATION],
                              context_settings={"help_option_names": ["-h", "--help"]}))


@cli.command("providers", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", help="Config file (default: $CHATCLI_CONFIG or the XDG config dir).")
def providers_cmd(config: str | None) -> None:
    """List the configured providers, their models and whether their keys are set."""
    from chatcli.cli.config_cmd import providers_command

    providers_command(config)


@cli.command("tools", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", help="Config file (default: $CHATCLI_CONFIG or the XDG config dir).")
def tools_cmd(config: str | None) -> None:
    """List the local tools the model may call, with their parameters."""
    from chatcli.cli.tools_cmd import print_tools

    print_tools(config)


@cli.command("doctor", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", help="Config file (default: $CHATCLI_CONFIG or the XDG config dir).")
@click.option("--quick", is_flag=True, help="Skip the one-token request to each model.")
@click.option("-p", "--provider", "providers", multiple=True, metavar="NAME",
              help="Check only this provider (repeatable).")
def doctor_cmd(config: str | None, quick: bool, providers: tuple[str, ...]) -> int:
    """Check config, keys, network (proxy, DNS, TCP, TLS), the clock and each model; paste it in a bug report."""
    from chatcli.cli.doctor import doctor

    return doctor(config, quick=quick, only=list(providers))


for _name, (_module, _attr, _help) in TYPER_APPS.items():
    cli.add_command(TyperApp(_name, _module, _attr, _help))
