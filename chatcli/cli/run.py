"""What `chat` and `chat ask` do with their flags: build the session and hand it to a front end."""

from __future__ import annotations

from typing import Any

from chatcli.cli import flags
from chatcli.errors import UsageError
from chatcli.ui.terminal import Terminal


def start_session(values: dict[str, Any], term: Terminal | None = None) -> int:
    """`chat` with no command: the REPL on a terminal, one answer for piped input."""
    term = term or Terminal()
    if values.get("words"):
        raise UsageError(f"no such command {values['words'][0]!r} (see chat --help); "
                         f"to ask one question: chat ask \"...\"")
    if values.get("cont") and values.get("resume"):
        raise UsageError("give either --continue or --resume ID, not both")
    generation = flags.generation(values).validate()
    if not term.interactive():  # `echo question | chat`: answer once, as `chat ask` would
        from chatcli.app.ask import AskOptions, run_ask

        return run_ask(AskOptions(prompt="", provider=values.get("provider"), model=values.get("model"),
                                  system=values.get("system"), config=values.get("config"),
                                  role=values.get("role"), approve=list(values.get("approve") or []),
                                  yes=bool(values.get("yes")),
                                  cont=bool(values.get("cont")), save=not values.get("no_save"),
                                  generation=generation), term)
    from chatcli.app.session import open_session
    from chatcli.config import load_config
    from chatcli.repl.loop import run_repl
    from chatcli.ui.render import Notify

    resume = values.get("resume") or ("" if values.get("cont") else None)
    notify = Notify(term)  # retry notices: above the live answer while one streams
    session, info = open_session(load_config(values.get("config")), provider=values.get("provider"),
                                 model=values.get("model"), system=values.get("system"), resume=resume,
                                 role=values.get("role"), save=not values.get("no_save"), notify=notify,
                                 flags=generation)
    consent = session.tool_host.consent  # --approve / --yes: these calls need no question in the session either
    consent.globs, consent.yes = list(values.get("approve") or []), bool(values.get("yes"))
    try:
        return run_repl(session, info, term, notify)
    finally:
        session.close()


def ask(values: dict[str, Any], term: Terminal | None = None) -> int:
    """`chat ask`: one question, one answer."""
    from chatcli.app.ask import AskOptions, run_ask

    mode = flags.raw_or_markdown(values["raw"], values["markdown"])
    return run_ask(AskOptions(
        prompt=" ".join(values.get("prompt") or []).strip(),
        provider=values.get("provider"),
        model=values.get("model"),
        system=values.get("system"),
        role=values.get("role"),
        as_json=values["as_json"],
        stream=not values["no_stream"],
        tools=not values["no_tools"],
        config=values.get("config"),
        mode=mode,
        cont=values["cont"],
        save=not values["no_save"],
        generation=flags.generation(values, json_object=values["json_object"]),
        usage=values["usage"],
        images=list(values["image"]),
        videos=list(values["video"]),
        files=list(values["file"]),
        approve=list(values["approve"]),
        yes=values["yes"],
    ), term)
