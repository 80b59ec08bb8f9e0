"""Saving conversations as they happen: the link between a conversation and the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chatcli.store.store import Store

if TYPE_CHECKING:
    from chatcli.config import Config
    from chatcli.core.conversation import Conversation
    from chatcli.core.messages import Message, Usage


def open_store(cfg: Config, save: bool, warn: Callable[[str], None]) -> Store:
    """The store, or a disabled one with --no-save or `[store] enabled = false`."""
    if not save or not cfg.store.enabled:
        return Store.disabled()
    return Store.open(cfg.store.db_path(), warn)


class Recorder:
    """Writes every message of one conversation to the store as it is appended."""

    def __init__(self, store: Store, where: Callable[[], tuple[str, str]]) -> None:
        self.store = store
        self.where = where  # the provider and model in use now
        self.conversation_id: str | None = None
        self.role: str | None = None  # the role in use, saved with the conversation

    def start(self, conversation: Conversation, conversation_id: str | None = None) -> None:
        """Record this conversation: a new one, or one loaded from the store under its id."""
        provider, model = self.where()
        self.conversation_id = conversation_id or self.store.new_conversation(provider, model, conversation.system,
                                                                                      self.role)
        conversation.on_message = self._save

    def _save(self, message: Message, usage: Usage | None) -> None:
        if self.conversation_id is None:
            return
        provider: str | None
        model: str | None
        provider, model = self.where()
        if message.role == "user":
            provider = model = None  # only answers say who produced them
        self.store.add_message(self.conversation_id, message, provider=provider, model=model, usage=usage)

    def sync_system(self, conversation: Conversation) -> None:
        """The system prompt changed: save it."""
        if self.conversation_id:
            self.store.set_system(self.conversation_id, conversation.system)

    def set_role(self, role: str | None) -> None:
        """The session took on another role (or none): continuing the conversation takes it on again."""
        self.role = role
        if self.conversation_id:
            self.store.set_role(self.conversation_id, role)

    def truncated(self, conversation: Conversation) -> None:
        """The conversation lost its last turn (undo/retry): drop it from the store too."""
        if self.conversation_id:
            kept = sum(1 for m in conversation.messages if m.role != "system")
            self.store.truncate(self.conversation_id, kept)
