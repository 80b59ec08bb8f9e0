"""SQLite persistence of conversations: schema and migrations, saving as it happens, listing, search.

One database file (WAL mode, owner-only) that several `chat` processes share safely. The store never
takes the chat down: a file that cannot be opened is moved aside (never deleted) and replaced; a save
that finds the file locked by another process is kept, in order, and written with the next save or at
close (after a bounded wait, what is still unsaved is named through `warn`); a save that fails otherwise
is reported once and skipped; a stored message that cannot be read is skipped with a warning.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatcli.core.messages import Message, Usage
from chatcli.errors import ChatError, UsageError
from chatcli.store.info import CONVERSATION_COLUMNS, ConversationInfo, SearchHit, conversation_info, json_object
from chatcli.store.pending import Pending, Turns, Write
from chatcli.store.rows import INSERT_MESSAGE, SELECT_MESSAGES, StoredMessage, message_row, readable, sendable
from chatcli.store.schema import BUSY_TIMEOUT, Unusable, connect, is_busy, move_aside, reason, transaction
from chatcli.store.titles import make_snippet, make_title

__all__ = ["ConversationInfo", "SearchHit", "Store", "StoreError", "StoredMessage", "make_title"]

ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32: no i, l, o, u
ID_LENGTH = 8
QUICK_WAIT = 0.2  # seconds a save during the chat waits for another process's lock before it is kept pending
CLOSE_WAIT = BUSY_TIMEOUT  # seconds close() waits for the lock before naming what it could not save
MAX_GRAMS = 500  # a 2-character word is searched as the indexed trigrams it starts, if not more than this
_WHAT = {"user": "question", "assistant": "answer", "tool": "tool result"}


class StoreError(ChatError):
    """The conversation history could not be read or changed."""


class Store:
    """The conversation history in one SQLite file; a disabled store (no file) does nothing."""

    def __init__(self, path: Path | None = None, warn: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.warn = warn or (lambda message: None)
        self._warned: set[str] = set()
        self._db: sqlite3.Connection | None = None
        self._fts = False
        self._new: dict[str, list[Any]] = {}  # [created, provider, model, system, role]: no row until a message
        self._pending = Pending()

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
        """Write what is still pending (waiting up to CLOSE_WAIT for a lock), then close."""
        if self._db is not None:
            self.flush(CLOSE_WAIT, final=True)
            self._db.close()
            self._db = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- saving: a locked file delays a save; other failures are warned about once --------------

    def new_conversation(self, provider: str, model: str, system: str | None, role: str | None = None) -> str:
        """A new conversation's id; its row is written with its first message, so empty chats leave nothing."""
        cid = _new_id()
        self._new[cid] = [time.time(), provider, model, system, role]
        return cid

    def add_message(self, conversation_id: str, message: Message, *, provider: str | None = None,
                    model: str | None = None, usage: Usage | None = None, failed: bool = False) -> None:
        """Save one message (a system message sets the system prompt instead)."""
        if message.role == "system":
            self.set_system(conversation_id, message.content if isinstance(message.content, str) else None)
            return
        now = time.time()
        row = message_row(message, provider=provider, model=model, usage=usage, failed=failed, created=now)
        user = message.role == "user"
        title = make_title(row[1] or "") if user else ""

        def write(db: sqlite3.Connection, turns: Turns) -> None:
            changed = db.execute(
                "UPDATE conversations SET updated = :now, provider = coalesce(:provider, provider),"
                " model = coalesce(:model, model), title = CASE WHEN title = '' THEN :title ELSE title END"
                " WHERE id = :id",
                {"now": now, "provider": provider, "model": model, "title": title, "id": conversation_id},
            ).rowcount
            if not changed:
                created, p, m, system, role = self._new.get(conversation_id, (now, "", "", None, None))
                db.execute("INSERT INTO conversations (id, title, created, updated, provider, model, system, role)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (conversation_id, title, created, now, provider or p, model or m, system, role))
            turn = None if user else turns.get(conversation_id)  # a question begins a turn: its own id
            cursor = db.execute(INSERT_MESSAGE, (conversation_id, turn, *row))
            if user and cursor.lastrowid is not None:
                turns[conversation_id] = cursor.lastrowid

        self._save(Write(conversation_id, _WHAT.get(message.role, message.role), write,
                         label=make_title(title, 40) if user else "", creates=True))

    def set_system(self, conversation_id: str, system: str | None) -> None:
        """Change a conversation's system prompt."""
        self._set_column(conversation_id, "system", system, "system prompt")

    def set_role(self, conversation_id: str, role: str | None) -> None:
        """Change the role a conversation is continued with."""
        self._set_column(conversation_id, "role", role, "role")

    def _set_column(self, conversation_id: str, column: str, value: str | None, what: str) -> None:
        if conversation_id in self._new:
            self._new[conversation_id][3 if column == "system" else 4] = value
            return
        self._save(Write(conversation_id, what, lambda db, _: db.execute(
            f"UPDATE conversations SET {column} = ? WHERE id = ?", (value, conversation_id))))

    def set_extra(self, conversation_id: str, key: str, value: Any) -> None:
        """Set one key of a conversation's `extra` JSON object (None removes it); saved after its messages."""
        def write(db: sqlite3.Connection, _: Turns) -> None:
            row = db.execute("SELECT extra FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            extra = json_object(row[0]) if row else {}
            if value is None:
                extra.pop(key, None)
            else:
                extra[key] = value
            db.execute("UPDATE conversations SET extra = ? WHERE id = ?",
                       (json.dumps(extra, ensure_ascii=False) if extra else None, conversation_id))

        self._save(Write(conversation_id, "conversation state", write))

    def set_title(self, conversation_id: str, title: str) -> None:
        """Replace a conversation's title (e.g. with a model-made one)."""
        self._save(Write(conversation_id, "title", lambda db, _: db.execute(
            "UPDATE conversations SET title = ? WHERE id = ?", (make_title(title), conversation_id))))

    def rename(self, conversation_id: str, title: str) -> str:
        """Give a saved conversation the user's title; the title as kept (one line, cut to fit).

        StoreError if there is no history (--no-save); UsageError for an empty title or a conversation
        with nothing saved yet (its row is written with its first message).
        """
        kept = make_title(title)
        if not kept:
            raise UsageError("a title needs some text")
        if self._db is None:
            raise StoreError("the conversation history is off (--no-save or [store] enabled = false): "
                             "nothing to rename")
        saving = any(w.creates and w.conversation_id == conversation_id for w in self._pending.writes)
        if conversation_id in self._new and not saving:
            raise UsageError("this conversation is not saved yet: it is saved with its first message")
        self.set_title(conversation_id, kept)
        return kept

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its messages (raises StoreError if that fails)."""
        def write(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

        self._new.pop(conversation_id, None)
        self._pending.drop(conversation_id)
        if self._db is None:
            return
        try:
            transaction(self._db, write, CLOSE_WAIT)
        except sqlite3.Error as err:
            raise StoreError(f"conversation history {self.path}: {reason(err)}") from None

    def truncate(self, conversation_id: str, keep: int) -> None:
        """Keep only the first `keep` of the messages a resume would load (for /undo and /retry)."""
        def write(db: sqlite3.Connection, _: Turns) -> None:
            rows = db.execute(SELECT_MESSAGES, (conversation_id,)).fetchall()
            loaded = sendable(readable(rows)[0])  # what the conversation in memory was made of
            if len(loaded) > keep:
                ids = [row[0] for row in rows]
                gone = ids[ids.index(loaded[keep].id):]
                db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in gone])

        self._save(Write(conversation_id, "undo", write))

    def flush(self, wait: float = CLOSE_WAIT, *, final: bool = False) -> bool:
        """Write the pending saves, waiting at most `wait` seconds for another process's lock.

        Whether all are saved. A lock that does not clear keeps them pending, unless final: then they are
        named in a warning and dropped. Any other failure drops them with a warning (once).
        """
        if not self._pending:
            return True
        if self._db is None:
            self._pending.give_up()
            return False
        try:
            written = self._pending.flush(self._db, wait)
        except sqlite3.Error as err:
            if is_busy(err) and not final:
                return False
            lost = self._pending.give_up()
            if is_busy(err):
                self.warn(f"could not save {lost}: the conversation history {self.path} stayed locked by "
                          f"another process for {wait:g} s")
            else:
                self._warn_once("save", f"could not save {lost} to the conversation history ({reason(err)}); "
                                        "the chat goes on unsaved")
            return False
        for write in written:
            if write.creates:
                self._new.pop(write.conversation_id, None)
        return True

    def _save(self, write: Write) -> None:
        """Queue a write after any still pending and try them all, briefly: a question never holds up its answer."""
        if self._db is not None:
            self._pending.add(write)
            self.flush(QUICK_WAIT)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warn(message)

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
        rows = self._read(f"SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?", (conversation_id,))
        if not rows:
            raise UsageError(f"no conversation {conversation_id!r}")
        return conversation_info(rows[0])

    def records(self, conversation_id: str) -> list[StoredMessage]:
        """The saved messages with their metadata, in order (the system prompt is in info()).

        A row that cannot be read is skipped, with a warning naming the conversation.
        """
        records, bad = readable(self._read(SELECT_MESSAGES, (conversation_id,)))
        if bad:
            n = len(bad)
            self._warn_once(f"unreadable {conversation_id}",
                            f"conversation {conversation_id}: skipped {n} saved message{'s' if n > 1 else ''} "
                            f"that cannot be read ({bad[0]}{'; ...' if n > 1 else ''})")
        return records

    def messages(self, conversation_id: str) -> list[Message]:
        """The saved messages to continue from, in order, without the system prompt (see info().system).

        Rows that cannot be read are left out, and so is what they leave unpaired (a tool result whose call
        was lost), so that a provider accepts the history.
        """
        return [r.message for r in sendable(self.records(conversation_id))]

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

    def export(self, conversation_id: str, fmt: str, assistant: str | None = None) -> str:
        """The conversation as "md" (readable markdown, answers headed `assistant` if given) or "json"."""
        from chatcli.store.export import export

        return export(self.info(conversation_id), self.records(conversation_id), fmt, assistant)

    def list(self, limit: int = 50) -> list[ConversationInfo]:
        """Conversations, most recently updated first."""
        rows = self._read(f"SELECT {CONVERSATION_COLUMNS} FROM conversations c ORDER BY c.updated DESC LIMIT ?",
                          (limit,))
        return [conversation_info(row) for row in rows]


def _new_id() -> str:
    return "".join(ID_ALPHABET[b % 32] for b in os.urandom(ID_LENGTH))


def _phrase(term: str) -> str:
    """An FTS5 string matching term literally."""
    return '"' + term.replace('"', '""') + '"'


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
