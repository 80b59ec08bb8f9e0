"""Saving conversations as they happen: the link between a Conversation and the Store."""

from __future__ import annotations

from collections.abc import Callable

from chatcli.config import Config
from chatcli.core.conversation import Conversation
from chatcli.core.messages import Message, Usage
from chatcli.store.store import ConversationInfo, Store


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

    def start(self, conversation: Conversation, conversation_id: str | None = None) -> None:
        """Record this conversation: a new one, or one loaded from the store under its id."""
        provider, model = self.where()
        self.conversation_id = conversation_id or self.store.new_conversation(provider, model, conversation.system)
        conversation.on_message = self._save

    def _save(self, message: Message, usage: Usage | None) -> None:
        if self.conversation_id is None:
            return
        provider, model = self.where()
        if message.role == "user":
            provider = model = None  # type: ignore[assignment]  # only answers say who produced them
        self.store.add_message(self.conversation_id, message, provider=provider, model=model, usage=usage)

    def sync_system(self, conversation: Conversation) -> None:
        if self.conversation_id:
            self.store.set_system(self.conversation_id, conversation.system)

    def truncated(self, conversation: Conversation) -> None:
        """The conversation lost its last turn (undo/retry): drop it from the store too."""
        if self.conversation_id:
            kept = sum(1 for m in conversation.messages if m.role != "system")
            self.store.truncate(self.conversation_id, kept)


def load(store: Store, ref: str | None) -> tuple[Conversation, ConversationInfo]:
    """A saved conversation by id prefix, or the last one when ref is None."""
    from chatcli.errors import UsageError

    cid = store.resolve(ref) if ref else store.last_id()
    if cid is None:
        raise UsageError("no saved conversation to continue yet")
    info = store.info(cid)
    conversation = Conversation(info.system)
    conversation.messages.extend(store.messages(cid))
    return conversation, info
