"""`chat roles`: the roles `chat -r NAME` and `/role NAME` take on, as a table or tab-separated lines."""

from __future__ import annotations

import sys
from typing import TextIO

from chatcli.config import Config, load_config
from chatcli.ui.sanitize import visible
from chatcli.ui.terminal import is_terminal


def roles_command(config: str | None = None) -> None:
    """List the roles: name, provider/model, description."""
    print_roles(load_config(config), sys.stdout, tty=is_terminal(sys.stdout))


def print_roles(cfg: Config, out: TextIO, tty: bool) -> None:
    """Write the role table: Rich on a terminal, tab-separated lines (with a header) otherwise."""
    rows = []
    for name, role in cfg.roles.items():  # "-": the session's provider or model
        where = f"{role.provider or '-'}/{role.model or '-'}" if role.provider or role.model else "-"
        rows.append((visible(name), visible(where), visible(" ".join((role.description or "").split()))))
    if not tty:
        out.write("name\tprovider/model\tdescription\n")
        out.writelines(f"{name}\t{where}\t{description}\n" for name, where, description in rows)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(caption="use one with: chat -r NAME, or /role NAME in a session", caption_justify="left")
    for column in ("name", "provider/model", "description"):
        table.add_column(column, overflow="fold")
    for name, where, description in rows:
        table.add_row(Text(name, style="bold"), Text(where, style="dim" if where == "-" else ""), Text(description))
    Console(file=out).print(table)
