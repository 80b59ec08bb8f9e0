"""Per-conversation provider state (e.g. a Zhipu assistant's conversation id), kept in the conversation's extra.

A provider with `state() -> dict` has it saved under `provider_state.<provider name>` after each turn;
one with `restore(state)` gets it back when the conversation is continued. Both methods are optional.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chatcli.store.store import Store

PREFIX = "provider_state."


def save_state(store: Store, conversation_id: str | None, name: str, provider: Any) -> None:
    """Save what the provider wants kept for this conversation, if anything."""
    state = getattr(provider, "state", None)
    if conversation_id is None or not callable(state):
        return
    value = state()
    if isinstance(value, dict) and value:
        store.set_extra(conversation_id, PREFIX + name, value)


def reset_state(providers: Iterable[Any]) -> None:
    """The providers made so far forget what they kept for another conversation (restore({}))."""
    for made in providers:
        restore = getattr(made, "restore", None)
        if callable(restore):
            restore({})


def restore_state(extra: dict[str, Any], name: str, made: dict[str, Any], provider: Callable[[], Any]) -> None:
    """Reset the providers made so far, then hand the one in use (made only if need be) its saved state."""
    reset_state(made.values())
    state = extra.get(PREFIX + name)
    if isinstance(state, dict) and state:
        restore = getattr(provider(), "restore", None)
        if callable(restore):
            restore(state)
