"""The settings every Typer sub-app (`chat config`, `chat sessions`) shares."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand

from chatcli.cli.groups import TYPER_APPS, summary


class PlainHelpCommand(TyperCommand):
    """A Typer command whose help names arguments as written (`KEY`), without Python types (`<str>`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or (param.name or "").upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 and not name.endswith("...") else ""))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args = [(p.metavar or (p.name or "").upper(), getattr(p, "help", None) or "")
                for p in self.get_params(ctx) if p.param_type_name == "argument"]
        opts = [r for p in self.get_params(ctx) if p.param_type_name == "option" and (r := p.get_help_record(ctx))]
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


class SubApp(typer.Typer):
    """A Typer app whose commands use PlainHelpCommand and list a summary that is never cut."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", PlainHelpCommand)

        def register(f: Any) -> Any:
            kwargs.setdefault("short_help", summary(f.__doc__))
            return typer.Typer.command(self, *args, **kwargs)(f)
        return register


def sub_app(name: str) -> typer.Typer:
    """The Typer app for a command group named in TYPER_APPS: plain help (Rich's is slow to load), `-h` too."""
    return SubApp(name=name, help=TYPER_APPS[name][2], no_args_is_help=True, add_completion=False,
                  rich_markup_mode=None, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
