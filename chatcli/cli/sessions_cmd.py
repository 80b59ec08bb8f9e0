"""`chat sessions ...`: list, show, search, export and delete saved conversations."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from chatcli.cli.config_cmd import ConfigOption, config_arg
from chatcli.cli.subapp import sub_app
from chatcli.errors import UsageError
from chatcli.jsontext import json_text
from chatcli.ui.sanitize import strip_controls
from chatcli.ui.terminal import Terminal, is_terminal

if TYPE_CHECKING:
    from chatcli.store.store import ConversationInfo, SearchHit, Store

sessions_app = sub_app("sessions")

IdArg = Annotated[str, typer.Argument(metavar="ID", help="A conversation id, or a unique prefix of one.")]


def _at_least_one(value: int) -> int:
    if value < 1:
        raise typer.BadParameter(f"must be 1 or more (got {value})")
    return value


LimitOption = Annotated[int, typer.Option("--limit", "-n", callback=_at_least_one, metavar="N",
                                          show_default=False, help="Show at most this many (default 50).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def open_store(ctx: typer.Context, config: str | None) -> Store:
    """The store named by the config; StoreError if it cannot be opened at all."""
    from chatcli.config import load_config
    from chatcli.store.store import Store, StoreError

    path = load_config(config_arg(ctx, config)).store.db_path()
    warnings: list[str] = []
    store = Store.open(path, warnings.append)
    failure = None if store.enabled else (warnings.pop() if warnings else f"cannot open {path}")
    for line in warnings:  # e.g. a bad file was moved aside
        Terminal().error(line)
    if failure:
        raise StoreError(failure)
    store.warn = Terminal().notice  # later ones as they happen, e.g. a saved message that cannot be read
    return store


def one_line(text: str | None) -> str:
    """Untrusted text made safe for one table cell or tab-separated field."""
    return " ".join(strip_controls(text or "").split())


@sessions_app.command("list")
def list_command(ctx: typer.Context, config: ConfigOption = None, limit: LimitOption = 50,
                 as_json: JsonOption = False) -> None:
    """List saved conversations, most recent first."""
    with open_store(ctx, config) as store:
        rows = store.list(limit)
    if as_json:
        typer.echo(json_text([asdict(r) for r in rows], indent=2))
    else:
        print_conversations(rows, sys.stdout, tty=is_terminal(sys.stdout))


@sessions_app.command("show")
def show_command(ctx: typer.Context, conversation: IdArg, config: ConfigOption = None) -> None:
    """Show a conversation (rendered as markdown in a terminal)."""
    with open_store(ctx, config) as store:
        text = strip_controls(_export(ctx, config, store, store.resolve(conversation), "md"))
    if not is_terminal(sys.stdout):
        sys.stdout.write(text)
        return
    from rich.console import Console
    from rich.markdown import Markdown

    Console().print(Markdown(text))


@sessions_app.command("search")
def search_command(
    ctx: typer.Context,
    text: Annotated[list[str], typer.Argument(metavar="TEXT...", help="Words that must all appear in a message.")],
    config: ConfigOption = None,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    """Find messages containing every word (any case; Chinese works too), newest first."""
    with open_store(ctx, config) as store:
        hits = store.search(" ".join(text), limit)
    if as_json:
        typer.echo(json_text([asdict(h) for h in hits], indent=2))
    else:
        print_hits(hits, sys.stdout, tty=is_terminal(sys.stdout))


@sessions_app.command("export")
def export_command(
    ctx: typer.Context,
    conversation: IdArg,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="md|json", help="Markdown or JSON.")] = "md",
    config: ConfigOption = None,
) -> None:
    """Print a conversation as markdown or as JSON with every saved field."""
    with open_store(ctx, config) as store:
        text = _export(ctx, config, store, store.resolve(conversation), fmt)
    sys.stdout.write(strip_controls(text) if fmt == "md" else text)  # JSON escapes control characters


def _export(ctx: typer.Context, config: str | None, store: Store, cid: str, fmt: str) -> str:
    """A conversation exported, its answers headed with the persona's name if its role has one."""
    from chatcli.config import load_config

    role = load_config(config_arg(ctx, config)).roles.get(store.info(cid).role or "")
    return store.export(cid, fmt, role.bot_name if role else None)


@sessions_app.command("delete")
def delete_command(
    ctx: typer.Context,
    conversation: IdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    config: ConfigOption = None,
) -> None:
    """Delete a conversation and all its messages."""
    with open_store(ctx, config) as store:
        info = store.info(store.resolve(conversation))
        if not yes:
            if not Terminal().interactive():
                raise UsageError("not deleting without --yes: stdin is not a terminal")
            question = f"Delete {info.id} “{one_line(info.title)}” ({info.message_count} messages)?"
            if not typer.confirm(question, default=False, err=True):
                typer.echo("not deleted", err=True)
                raise typer.Exit(1)
        store.delete(info.id)
    typer.echo(f"deleted {info.id}")


def print_conversations(rows: list[ConversationInfo], out: TextIO, tty: bool) -> None:
    """The conversation list: a Rich table on a terminal, tab-separated lines otherwise."""
    from chatcli.store.export import stamp

    cells = [(r.id, stamp(r.updated), str(r.message_count), one_line(r.model), one_line(r.role or ""),
              one_line(r.title)) for r in rows]
    if not tty:
        out.write("id\tupdated\tmessages\tmodel\trole\ttitle\n")
        out.writelines("\t".join(row) + "\n" for row in cells)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(caption="continue one with: chat --resume ID" if rows else "no saved conversations",
                  caption_justify="left")
    for column in ("id", "updated", "msgs", "model", "role", "title"):
        table.add_column(column, justify="right" if column == "msgs" else "left", overflow="fold")
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    Console(file=out).print(table)


def print_hits(hits: list[SearchHit], out: TextIO, tty: bool) -> None:
    """Search results: a Rich table on a terminal, tab-separated lines otherwise."""
    from chatcli.store.export import stamp

    cells = [(h.conversation_id, stamp(h.created), h.role, one_line(h.title), one_line(h.snippet)) for h in hits]
    if not tty:
        out.write("id\tdate\trole\ttitle\tsnippet\n")
        out.writelines("\t".join(row) + "\n" for row in cells)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(caption=None if hits else "nothing found", caption_justify="left")
    for column in ("id", "date", "role", "title", "match"):
        table.add_column(column, overflow="fold")
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    Console(file=out).print(table)
