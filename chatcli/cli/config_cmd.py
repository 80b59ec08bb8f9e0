"""`chat config ...` commands and `chat providers`."""

from __future__ import annotations

import sys
from typing import Annotated, Any, TextIO

import typer

from chatcli.cli.subapp import sub_app
from chatcli.config import Config, config_path, load_config
from chatcli.config.editing import effective_dict, init_config, looks_secret, mask_secret, set_value, shown_value
from chatcli.config.prices import incomplete
from chatcli.jsontext import escape_raw_controls, json_text
from chatcli.ui.sanitize import visible
from chatcli.ui.terminal import is_terminal

config_app = sub_app("config")

ConfigOption = Annotated[
    str | None,
    typer.Option("--config", metavar="PATH", help="Config file (default: $CHATCLI_CONFIG or the user config dir)."),
]


def config_arg(ctx: typer.Context, value: str | None, *, must_exist: bool = True) -> str | None:
    """The --config given here, else one given to a parent command (e.g. `chat --config X config show`).

    A path the user names must exist, except for the commands that create it (init, path).
    """
    from chatcli.cli.flags import existing_config

    node = ctx.parent
    while not value and node is not None:
        inherited = node.params.get("config")
        if isinstance(inherited, str) and inherited:
            value = inherited
        node = node.parent
    return existing_config(value) if must_exist else value or None


def toml_text(table: dict) -> str:
    """A table as TOML with no raw control character (tomli_w leaves C1 controls as they are)."""
    import tomli_w

    return escape_raw_controls(tomli_w.dumps(table)).rstrip("\n")


def _literal(value: Any) -> str:
    """Strings as they are (control characters escaped), tables as TOML, the rest as a JSON/TOML literal."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return toml_text(value)
    return json_text(value)


@config_app.command("path")
def path_command(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Print the config file path in use (whether or not it exists)."""
    typer.echo(str(config_path(config_arg(ctx, config, must_exist=False))))


@config_app.command("show")
def show_command(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Print the effective configuration as TOML, secrets masked."""
    cfg = load_config(config_arg(ctx, config))
    note = "" if cfg.exists else " (not found: built-in presets only)"
    typer.echo(f"# {visible(str(cfg.path))}{note}\n")
    typer.echo(toml_text(effective_dict(cfg, mask=True)))


@config_app.command("init")
def init_command(
    ctx: typer.Context,
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config file."""
    path = config_path(config_arg(ctx, config, must_exist=False))
    init_config(path, force=force)
    from chatcli.config.presets import PRESETS

    typer.echo(f"wrote {path}\npresets: {', '.join(PRESETS)} (each has a commented [providers.NAME] table there)")


@config_app.command("get")
def get_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="Dotted key, e.g. providers.qwen.model.")],
    config: ConfigOption = None,
) -> None:
    """Print the effective value of a key (nothing if it is unset); a table as TOML, secrets masked."""
    value = shown_value(load_config(config_arg(ctx, config)), key)
    if value is not None and value != {}:
        typer.echo(_literal(value))


@config_app.command("set")
def set_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="Dotted key, e.g. providers.qwen.model.")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="A TOML value (true, 42, [\"a\"]) or a plain string.")],
    config: ConfigOption = None,
) -> None:
    """Set a key in the config file (validated before it is written)."""
    path = config_path(config_arg(ctx, config))
    set_value(path, key, value)
    last = key.rsplit(".", 1)[-1]
    shown = mask_secret(value) if looks_secret(last) else value
    typer.echo(f"set {visible(key)} = {visible(shown)}")
    if key.startswith("prices."):
        missing = incomplete(load_config(str(path)).prices)
        if missing:
            typer.echo(f"no cost is shown for that model until {', '.join(map(visible, missing))} "
                       f"{'is' if len(missing) == 1 else 'are'} set too")


def providers_command(config: ConfigOption = None) -> None:
    """List the configured providers, their default model and API key status."""
    cfg = load_config(config)
    print_providers(cfg, sys.stdout, tty=is_terminal(sys.stdout))


def print_providers(cfg: Config, out: TextIO, tty: bool) -> None:
    """Write the provider table: Rich on a terminal, tab-separated lines otherwise."""
    rows = [
        (visible(name), visible(p.kind), visible(p.base_url or "-"), visible(p.model), p.key_status(),
         name == cfg.default_provider)
        for name, p in cfg.providers.items()
    ]
    if not tty:
        out.write("name\tkind\tbase_url\tmodel\tkey\tdefault\n")
        for *cells, default in rows:
            out.write("\t".join([*cells, "*" if default else ""]) + "\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    styles = {"set": "green", "missing": "red", "not needed": "dim", "command": "cyan"}
    table = Table(caption="* default provider", caption_justify="left")
    for column in ("name", "kind", "base URL", "model", "key"):
        table.add_column(column, overflow="fold")
    for name, kind, base_url, model, key, default in rows:
        label = Text(f"{name} *", style="bold") if default else Text(name)
        table.add_row(label, Text(kind), Text(base_url), Text(model), Text(key, style=styles.get(key, "")))
    Console(file=out).print(table)
