"""The command line: the click/Typer app, flags declared once, and the one exit boundary."""
