"""The settings every Typer sub-app (`chat config`, `chat sessions`) shares."""

from __future__ import annotations

import typer

from chatcli.cli.groups import TYPER_APPS


def sub_app(name: str) -> typer.Typer:
    """The Typer app for a command group named in TYPER_APPS: plain help (Rich's is slow to load), `-h` too."""
    return typer.Typer(name=name, help=TYPER_APPS[name][2], no_args_is_help=True, add_completion=False,
                       rich_markup_mode=None, pretty_exceptions_enable=False,
                       context_settings={"help_option_names": ["-h", "--help"]})
