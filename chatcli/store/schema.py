"""The conversation database file: schema, migrations, opening it, and moving a bad one aside."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

BUSY_TIMEOUT = 5.0  # seconds SQLite waits for another process's write lock (reads, and saves at close)
_HEADER = b"SQLite format 3\x00"

_SCHEMA_V1 = [
    """CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL,
        provider TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        system TEXT)""",
    "CREATE INDEX conversations_updated ON conversations(updated)",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT,          -- the text (of the text parts, for multi-part content)
        parts TEXT,            -- JSON list when the content was a list of parts
        reasoning TEXT,
        tool_calls TEXT,       -- JSON [{id, name, arguments}]
        tool_call_id TEXT,
        name TEXT,
        provider TEXT,
        model TEXT,
        usage TEXT,            -- JSON Usage.to_dict()
        created REAL NOT NULL,
        interrupted INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX messages_conversation ON messages(conversation_id, id)",
]
# Trigrams of each message's text plus two spaces, so that a word at the very end (or a whole message
# of two characters) still starts a trigram: a 2-character word is searched as "the trigrams it starts".
# Contentless (the text lives in messages), so the triggers must index and unindex the same padded text.
_FTS_V1 = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='', tokenize='trigram')",
    "CREATE VIRTUAL TABLE messages_vocab USING fts5vocab(messages_fts, row)",
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, coalesce(new.content, '') || '  '); END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text)
        VALUES ('delete', old.id, coalesce(old.content, '') || '  '); END""",
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text)
        VALUES ('delete', old.id, coalesce(old.content, '') || '  ');
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, coalesce(new.content, '') || '  '); END""",
]


def _migrate_v1(db: sqlite3.Connection) -> None:
    for sql in _SCHEMA_V1:
        db.execute(sql)
    db.execute("SAVEPOINT fts")
    try:
        for sql in _FTS_V1:
            db.execute(sql)
    except sqlite3.OperationalError:  # no FTS5, or no trigram tokenizer (SQLite < 3.34): search uses LIKE
        db.execute("ROLLBACK TO fts")
    db.execute("RELEASE fts")


def _migrate_v2(db: sqlite3.Connection) -> None:
    """Withdrawn answers, and turns: a message's `turn` is the id of the user message that began its turn
    (NULL: its own id), so the turns of two processes continuing one conversation never interleave."""
    db.execute("ALTER TABLE messages ADD COLUMN withdrawn INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE messages ADD COLUMN turn INTEGER")
    db.execute("DROP INDEX messages_conversation")
    db.execute("CREATE INDEX messages_order ON messages(conversation_id, coalesce(turn, id), id)")


def _migrate_v3(db: sqlite3.Connection) -> None:
    """The role a conversation uses (`chat -r NAME`), and `extra`: a JSON object of per-conversation state
    (e.g. `provider_state.zhipu`, a Zhipu assistant's conversation id)."""
    db.execute("ALTER TABLE conversations ADD COLUMN role TEXT")
    db.execute("ALTER TABLE conversations ADD COLUMN extra TEXT")


# Schema version N is reached by running MIGRATIONS[:N]; PRAGMA user_version records N.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_v1, _migrate_v2, _migrate_v3]


class Unusable(Exception):
    """The file is not a database this code can use (corrupt, not SQLite, newer schema)."""

    def __init__(self, reason: str, label: str = "corrupt") -> None:
        super().__init__(reason)
        self.label = label


def connect(path: Path) -> sqlite3.Connection:
    """Connect, check the file and bring its schema up to date. Raises Unusable for a bad file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)  # -wal/-shm get this mode too
    try:
        head = os.read(fd, len(_HEADER))
    finally:
        os.close(fd)
    if head and head != _HEADER:  # found before SQLite opens it, which could drop a -wal it thinks stale
        raise Unusable("not an SQLite database")
    for side in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if side.exists() and side.stat().st_mode & 0o077:
            side.chmod(0o600)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    db.text_factory = _lenient  # a title or snippet with bad bytes still prints; messages are read strictly
    try:
        _setup(db)
    except sqlite3.OperationalError:
        db.close()
        raise
    except sqlite3.DatabaseError as err:  # "file is not a database", "database disk image is malformed"
        db.close()
        raise Unusable(reason(err)) from None
    except BaseException:
        db.close()
        raise
    return db


def _setup(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise Unusable(f"its schema version {version} is newer than this chat knows", "newer")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA foreign_keys = ON")
    if version < len(MIGRATIONS):
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated
            for migrate in MIGRATIONS[version:]:
                migrate(db)
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    try:
        db.execute("SELECT id FROM conversations ORDER BY updated DESC LIMIT 1").fetchall()
        db.execute("SELECT rowid FROM messages_fts LIMIT 0").fetchall()
    except sqlite3.OperationalError as err:
        text = str(err)
        if text == "no such table: messages_fts":
            return  # made where SQLite had no trigram tokenizer: search scans instead
        if text.startswith("no such"):  # not our schema, or an FTS tokenizer this SQLite lacks
            raise Unusable(text) from None
        raise


def _lenient(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def transaction(db: sqlite3.Connection, fn: Callable[[sqlite3.Connection], object], wait: float) -> None:
    """Run fn in one write transaction, waiting at most `wait` seconds for another process's lock.

    Raises sqlite3.Error (nothing written): is_busy(err) when the lock did not clear in time.
    """
    db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            fn(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    finally:
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")


def move_aside(path: Path, label: str) -> Path:
    """Rename a bad database (and its -wal/-shm) to NAME.LABEL-YYYYmmdd-HHMMSS; return the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{label}-{stamp}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
        n += 1
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{aside}{suffix}"))
    return aside


def reason(err: BaseException) -> str:
    """An error as a short phrase for the user."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


def is_busy(err: sqlite3.Error) -> bool:
    """Whether another connection holding a lock caused the error."""
    text = str(err)
    return "locked" in text or "busy" in text
