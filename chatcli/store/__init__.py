"""Saved conversations: SQLite connection and migrations, the store, the recorder, export."""
