"""A session's role (`chat -r NAME`, `/role NAME`): its provider, model, system prompt, tools and persona.

The command line wins over a role, a role over the provider's config defaults (see ChatSession.generation).
With a CharacterGLM model the persona goes as the request's `meta`; with any other it becomes a system prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.config.roles import Role, role_meta, role_system

if TYPE_CHECKING:
    from chatcli.app.session import ChatSession


def apply_role(session: ChatSession, role: Role | None, *, provider: str | None = None, model: str | None = None,
               system: str | None = None) -> None:
    """Take on a role (None: drop it) for the turns that follow; a provider, model or system given here wins.

    The conversation carries over. Dropping a role drops its system prompt, unless it was changed since.
    """
    before = session.role
    if before is not None and session.system == _system_of(session, before):
        session.system = system
    session.role = role
    session.recorder.set_role(role.name if role else None)
    if role is not None:
        if provider is None and role.provider:
            session.switch_provider(role.provider)
        if model is None and role.model and (provider is None or provider == role.provider):
            session.model = role.model
        session.system = system if system is not None else _system_of(session, role)
    _tools(session)


def resumed_role(session: ChatSession, name: str | None) -> None:
    """A continued conversation's role: its options, tools and persona (its prompt, provider and model were saved)."""
    session.role = session.cfg.roles.get(name or "")  # a role no longer in the config: none
    session.recorder.role = session.role.name if session.role else None
    _tools(session)


def _tools(session: ChatSession) -> None:
    """Tools on unless --no-tools, then as the role says, else as [tools] enabled says."""
    role = session.role
    session.tools_on = session.tools_asked and (
        role.tools if role is not None and role.tools is not None else session.cfg.tools.enabled)


def turn_meta(session: ChatSession) -> dict[str, str] | None:
    """The `meta` of the next request; the persona's system prompt follows a switch to or from CharacterGLM."""
    role = session.role
    if role is None or not role.persona():
        return None
    kind, now = session.provider_config.kind, _system_of(session, role)
    variants = (role_system(role, "openai", ""), role_system(role, "zhipu", "charglm"))  # with, without persona
    if session.system != now and session.system in variants:  # not one the user has set since
        session.system = now
    return role_meta(role, kind, session.model)


def persona_name(session: ChatSession) -> str | None:
    """The name the assistant answers under (the role's bot_name), or None."""
    return session.role.bot_name if session.role is not None else None


def _system_of(session: ChatSession, role: Role) -> str | None:
    """The system prompt the role sends with the session's model now."""
    return role_system(role, session.provider_config.kind, session.model)
