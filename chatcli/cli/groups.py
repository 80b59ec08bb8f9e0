"""The command groups that are Typer apps, named here so `chat --help` lists them without loading them."""

# name: (module, Typer app, short help)
TYPER_APPS = {
    "config": ("chatcli.cli.config_cmd", "config_app", "Show or change the configuration file."),
    "sessions": ("chatcli.cli.sessions_cmd", "sessions_app",
                 "List, show, search, export or delete saved conversations."),
}


def summary(doc: str | None) -> str:
    """A command's one-line summary for a listing: its docstring's first clause, never cut mid-way."""
    first = (doc or "").strip().split("\n\n")[0]
    first = " ".join(first.split()).split("; ")[0].split(" (")[0].rstrip(".")
    return first + "." if first else ""
