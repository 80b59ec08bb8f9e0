"""`/role [NAME|none]`: show the role, take on another for the turns that follow, or drop it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.app.roles import apply_role
from chatcli.errors import ChatError
from chatcli.repl.commands import Choice, command
from chatcli.ui.sanitize import visible

if TYPE_CHECKING:
    from chatcli.repl.loop import Repl

NONE = "none"


def _roles(repl: Repl) -> list[Choice]:
    """The role names, each with its description beside it, then `none`."""
    found = repl.session.cfg.roles.values()
    return [*((r.name, visible(r.description or "")) for r in found), (NONE, "no role")]


@command("/role", "show the role, take on another (system prompt, model, options) or none", "[NAME|none]",
         choices=_roles)
def _role(repl: Repl, arg: str) -> None:
    s = repl.session
    known = ", ".join(map(visible, s.cfg.roles))
    if not arg:
        current = visible(s.role.name) if s.role else NONE
        return repl.say(f"role: {current} ({known})")
    try:
        role = None if arg == NONE else s.cfg.role(arg)
        apply_role(s, role)
    except ChatError as e:
        return repl.error(e.message)
    if role is None:
        return repl.say("no role; the conversation carries over")
    repl.say(f"role {visible(role.name)}: {visible(s.provider_name)}:{visible(s.model)}; "
             "the conversation carries over")
