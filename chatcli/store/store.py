"""SQLite persistence of conversations: schema and migrations, saving as it happens, listing, search.

One database file (WAL mode, owner-only) that several `chat` processes share safely. The store never
takes the chat down: a file that cannot be opened is moved aside (never deleted) and replaced, and a
save that still fails after retries is reported once through `warn` and skipped.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatcli.core.messages import Message, ToolCall, Usage, content_text
from chatcli.errors import ChatError, UsageError
from chatcli.store.schema import Unusable, connect, is_busy, move_aside, reason
from chatcli.store.titles import make_snippet, make_title

ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32: no i, l, o, u
ID_LENGTH = 8
WRITE_ATTEMPTS = 3
MAX_GRAMS = 500  # a 2-character word is searched as the indexed trigrams it starts, if not more than this
_CONVERSATION_COLUMNS = "c.id, c.title, c.created, c.updated, c.provider, c.model, c.system, " \
    "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
_MESSAGE_FIELDS = ("role", "content", "parts", "reasoning", "tool_calls", "tool_call_id", "name", "provider",
                   "model", "usage", "created", "interrupted", "failed")
_INSERT_MESSAGE = f"INSERT INTO messages (conversation_id, {', '.join(_MESSAGE_FIELDS)})" \
    f" VALUES (?{', ?' * len(_MESSAGE_FIELDS)})"
_SELECT_MESSAGES = f"SELECT id, {', '.join(_MESSAGE_FIELDS)} FROM messages WHERE conversation_id = ? ORDER BY id"


class StoreError(ChatError):
    """The conversation history could not be read or changed."""


@dataclass
class ConversationInfo:
    id: str
    title: str
    created: float
    updated: float
    provider: str
    model: str
    system: str | None
    message_count: int


@dataclass
class SearchHit:
    conversation_id: str
    title: str
    role: str
    snippet: str
    created: float


@dataclass
class StoredMessage:
    """A saved message and what the store knows about it beyond the Message itself."""

    id: int
    message: Message
    created: float
    provider: str | None = None
    model: str | None = None
    usage: Usage | None = None
    failed: bool = False


class Store:
    """The conversation history in one SQLite file; a disabled store (no file) does nothing."""

    def __init__(self, path: Path | None = None, warn: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._warn = warn or (lambda message: None)
        self._warned: set[str] = set()
        self._db: sqlite3.Connection | None = None
        self._fts = False
        self._pending: dict[str, tuple[float, str, str, str | None]] = {}  # not written until a message is

    @classmethod
    def open(cls, path: Path, warn: Callable[[str], None]) -> Store:
        """Open or create the database; a bad file is moved aside and replaced. Never raises."""
        store = cls(path, warn)
        try:
            try:
                store._db = connect(path)
            except Unusable as err:
                aside = move_aside(path, err.label)
                store._warn_once("open", f"conversation history {path} cannot be used ({err}); "
                                         f"moved it to {aside.name} and started a new one")
                store._db = connect(path)
        except (OSError, sqlite3.Error, Unusable) as err:
            store._warn_once("disabled", f"conversation history is off: cannot open {path}: {reason(err)}")
            return store
        store._fts = bool(store._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages_fts'").fetchone())
        return store

    @classmethod
    def disabled(cls) -> Store:
        """A store that saves nothing and finds nothing (--no-save, [store] enabled = false)."""
        return cls()

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- saving: failures are warned about once and otherwise ignored ----------------------

    def new_conversation(self, provider: str, model: str, system: str | None) -> str:
        """A new conversation's id; its row is written with its first message, so empty chats leave nothing."""
        cid = _new_id()
        self._pending[cid] = (time.time(), provider, model, system)
        return cid

    def add_message(self, conversation_id: str, message: Message, *, provider: str | None = None,
                    model: str | None = None, usage: Usage | None = None, failed: bool = False) -> None:
        """Save one message (a system message sets the system prompt instead)."""
        if message.role == "system":
            self.set_system(conversation_id, message.content if isinstance(message.content, str) else None)
            return
        now = time.time()
        text, parts = _split_content(message.content)
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]
        row = (conversation_id, message.role, text, parts, message.reasoning or None,
               json.dumps(calls, ensure_ascii=False) if calls else None, message.tool_call_id, message.name,
               provider, model, json.dumps(usage.to_dict()) if usage else None, now,
               int(message.interrupted), int(failed))
        title = make_title(text or "") if message.role == "user" else ""

        def write(db: sqlite3.Connection) -> None:
            changed = db.execute(
                "UPDATE conversations SET updated = :now, provider = coalesce(:provider, provider),"
                " model = coalesce(:model, model), title = CASE WHEN title = '' THEN :title ELSE title END"
                " WHERE id = :id",
                {"now": now, "provider": provider, "model": model, "title": title, "id": conversation_id},
            ).rowcount
            if not changed:
                created, p, m, system = self._pending.get(conversation_id, (now, "", "", None))
                db.execute("INSERT INTO conversations (id, title, created, updated, provider, model, system)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (conversation_id, title, created, now, provider or p, model or m, system))
            db.execute(_INSERT_MESSAGE, row)

        if self._write(write):
            self._pending.pop(conversation_id, None)

    def set_system(self, conversation_id: str, system: str | None) -> None:
        """Change a conversation's system prompt."""
        if conversation_id in self._pending:
            created, provider, model, _ = self._pending[conversation_id]
            self._pending[conversation_id] = (created, provider, model, system)
            return
        self._write(lambda db: db.execute("UPDATE conversations SET system = ? WHERE id = ?",
                                          (system, conversation_id)))

    def set_title(self, conversation_id: str, title: str) -> None:
        """Replace a conversation's title (e.g. with a model-made one)."""
        self._write(lambda db: db.execute("UPDATE conversations SET title = ? WHERE id = ?",
                                          (make_title(title), conversation_id)))

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its messages (raises StoreError if that fails)."""
        def write(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

        self._pending.pop(conversation_id, None)
        self._write(write, quiet=False)

    def truncate(self, conversation_id: str, keep: int) -> None:
        """Delete all but the first `keep` messages of a conversation (for /undo and /retry)."""
        def write(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM messages WHERE conversation_id = ? AND id NOT IN"
                       " (SELECT id FROM messages WHERE conversation_id = ? ORDER BY id LIMIT ?)",
                       (conversation_id, conversation_id, keep))

        self._write(write)

    def _write(self, fn: Callable[[sqlite3.Connection], Any], quiet: bool = True) -> bool:
        """Run fn in one short write transaction, retrying while another process holds the lock."""
        db = self._db
        if db is None:
            return False
        for attempt in range(WRITE_ATTEMPTS):
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    fn(db)
                    db.execute("COMMIT")
                    return True
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as err:
                if is_busy(err) and attempt + 1 < WRITE_ATTEMPTS:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                if not quiet:
                    raise StoreError(f"conversation history {self.path}: {reason(err)}") from None
                self._warn_once("save", f"could not save to the conversation history ({reason(err)}); "
                                        "the chat goes on unsaved")
                return False
        return False  # pragma: no cover - the loop always returns

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self._warn(message)

    # --- reading: failures raise StoreError -----------------------------------------------

    def _read(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        if self._db is None:
            return []
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"conversation history {self.path}: {reason(err)}") from None

    def last_id(self) -> str | None:
        """The most recently updated conversation."""
        rows = self._read("SELECT id FROM conversations ORDER BY updated DESC LIMIT 1")
        return rows[0][0] if rows else None

    def resolve(self, prefix: str) -> str:
        """The one conversation id starting with prefix (UsageError if none or several)."""
        if self._db is None:
            raise StoreError("the conversation history is not available")
        wanted = prefix.strip().lower()
        if not wanted or any(ch not in ID_ALPHABET for ch in wanted):
            raise UsageError(f"no conversation {prefix!r}")
        ids = [r[0] for r in self._read("SELECT id FROM conversations WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
                                        (wanted, wanted + "~"))]
        if not ids:
            raise UsageError(f"no conversation {prefix!r}")
        if len(ids) > 1 and wanted not in ids:
            more = " ..." if len(ids) > 5 else ""
            raise UsageError(f"{prefix!r} is ambiguous: {', '.join(ids[:5])}{more}")
        return wanted if wanted in ids else ids[0]

    def info(self, conversation_id: str) -> ConversationInfo:
        """A conversation's details (UsageError if there is none)."""
        rows = self._read(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?", (conversation_id,))
        if not rows:
            raise UsageError(f"no conversation {conversation_id!r}")
        return ConversationInfo(*rows[0])

    def records(self, conversation_id: str) -> list[StoredMessage]:
        """The saved messages with their metadata, oldest first (the system prompt is in info())."""
        return [_record(row) for row in self._read(_SELECT_MESSAGES, (conversation_id,))]

    def messages(self, conversation_id: str) -> list[Message]:
        """The saved messages, oldest first, without the system prompt (see info().system)."""
        return [r.message for r in self.records(conversation_id)]

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """Messages containing every word of text (literally, any case), newest first."""
        terms = list(dict.fromkeys(text.split()))
        if not terms or self._db is None:
            return []
        match: list[str] = []
        like: list[str] = []
        for term in terms:
            if not self._fts or len(term) < 2:
                like.append(term)  # no index, or one character: scan
            elif len(term) >= 3:
                match.append(_phrase(term))
            else:
                grams = self._grams(term)
                if grams == []:
                    return []  # no indexed text contains it
                if grams is None:
                    like.append(term)
                else:
                    match.append("(" + " OR ".join(map(_phrase, grams)) + ")")
        where = ["m.content LIKE ? ESCAPE '\\'"] * len(like)
        params: list[Any] = [_like(t) for t in like]
        if match:
            source, order = "messages_fts f JOIN messages m ON m.id = f.rowid", "f.rowid DESC"
            where.insert(0, "messages_fts MATCH ?")
            params.insert(0, " AND ".join(match))
        else:
            source, order = "messages m", "m.id DESC"
        rows = self._read(
            f"SELECT m.conversation_id, c.title, m.role, m.content, m.created FROM {source}"
            f" JOIN conversations c ON c.id = m.conversation_id WHERE {' AND '.join(where)}"
            f" ORDER BY {order} LIMIT ?", (*params, limit))
        return [SearchHit(cid, title, role, make_snippet(content or "", terms), created)
                for cid, title, role, content, created in rows]

    def _grams(self, term: str) -> list[str] | None:
        """The indexed trigrams starting with a 2-character term; None if there are too many."""
        low = term.lower()
        grams = [r[0] for r in self._read("SELECT term FROM messages_vocab WHERE term >= ? AND term < ? LIMIT ?",
                                          (low, low + "\U0010ffff", MAX_GRAMS + 1))]
        return None if len(grams) > MAX_GRAMS else grams

    def export(self, conversation_id: str, fmt: str) -> str:
        """The conversation as "md" (readable markdown) or "json" (every stored field)."""
        from chatcli.store.export import export

        return export(self.info(conversation_id), self.records(conversation_id), fmt)

    def list(self, limit: int = 50) -> list[ConversationInfo]:
        """Conversations, most recently updated first."""
        rows = self._read(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c ORDER BY c.updated DESC LIMIT ?",
                          (limit,))
        return [ConversationInfo(*row) for row in rows]


# --- rows <-> messages ---------------------------------------------------------------------


def _new_id() -> str:
    return "".join(ID_ALPHABET[b % 32] for b in os.urandom(ID_LENGTH))


def _split_content(content: Any) -> tuple[str | None, str | None]:
    """(searchable text, JSON of the parts if content is a list of parts)."""
    if content is None or isinstance(content, str):
        return content, None
    return content_text(content), json.dumps(content, ensure_ascii=False)


def _record(row: tuple) -> StoredMessage:
    (mid, role, content, parts, reasoning, calls, call_id, name, provider, model, usage, created,
     interrupted, failed) = row
    message = Message(
        role,
        json.loads(parts) if parts is not None else content,
        reasoning=reasoning,
        tool_calls=[ToolCall(c["id"], c["name"], c.get("arguments", "")) for c in json.loads(calls or "[]")],
        tool_call_id=call_id,
        name=name,
        interrupted=bool(interrupted),
    )
    return StoredMessage(mid, message, created, provider, model, _usage(usage), bool(failed))


def _usage(text: str | None) -> Usage | None:
    if not text:
        return None
    known = Usage.__dataclass_fields__
    return Usage(**{k: v for k, v in json.loads(text).items() if k in known})


def _phrase(term: str) -> str:
    """An FTS5 string matching term literally."""
    return '"' + term.replace('"', '""') + '"'


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
