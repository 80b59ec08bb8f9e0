"""Saves not yet in the database: kept in order while another process holds its lock, then written together."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from chatcli.store.schema import transaction

Turns = dict[str, int]  # conversation id -> id of the user message that began its latest turn in this process
_PLURAL = {"question": "questions", "answer": "answers", "tool result": "tool results"}


@dataclass
class Write:
    """One change to make: what the user would call it, and how to make it inside a transaction."""

    conversation_id: str
    what: str  # "question", "answer", "tool result", "system prompt", "title", "undo"
    run: Callable[[sqlite3.Connection, Turns], object]
    label: str = ""  # for a question: its title, to name it if it is lost
    creates: bool = False  # writes the conversation's row if there is none yet


class Pending:
    """Writes in the order they were asked for, flushed as one transaction (a turn is never half written)."""

    def __init__(self) -> None:
        self.writes: list[Write] = []
        self.turns: Turns = {}

    def __bool__(self) -> bool:
        return bool(self.writes)

    def add(self, write: Write) -> None:
        self.writes.append(write)

    def drop(self, conversation_id: str) -> None:
        """Forget a conversation's writes (it is being deleted)."""
        self.writes = [w for w in self.writes if w.conversation_id != conversation_id]
        self.turns.pop(conversation_id, None)

    def flush(self, db: sqlite3.Connection, wait: float) -> list[Write]:
        """Make every write in one transaction, waiting at most `wait` seconds for the lock; the writes made.

        Raises sqlite3.Error, and then the writes stay pending.
        """
        writes, turns = list(self.writes), dict(self.turns)
        if not writes:
            return []

        def run(conn: sqlite3.Connection) -> None:
            for write in writes:
                write.run(conn, turns)

        transaction(db, run, wait)
        del self.writes[:len(writes)]
        self.turns = turns
        return writes

    def give_up(self) -> str:
        """Forget every write; what they would have saved, e.g. `the question and the answer of 1a2b3c4d`."""
        lost, self.writes = self.writes, []
        return describe(lost)


def describe(writes: list[Write]) -> str:
    """Writes as the user would name them, by conversation."""
    by_conversation: dict[str, list[Write]] = {}
    for write in writes:
        by_conversation.setdefault(write.conversation_id, []).append(write)
    out = []
    for cid, group in by_conversation.items():
        counts: dict[str, int] = {}
        for write in group:
            counts[write.what] = counts.get(write.what, 0) + 1
        things = [f"the {what}" if n == 1 else f"{n} {_PLURAL.get(what, what + 's')}" for what, n in counts.items()]
        named = next((w.label for w in group if w.label), "")
        out.append(f"{_and(things)} of conversation {cid}" + (f" (“{named}”)" if named else ""))
    return "; ".join(out)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
