"""Statements on bugs and events run inside a transaction, shared by the store's own methods
and by the copy of records between stores (store/sqlite/transfer.py)."""

from __future__ import annotations

import sqlite3

from store.models import Bug, Event
from store.sqlite.event_text import event_text_id
from store.sqlite.rows import (
    BUG_COLUMNS,
    EVENT_ROW_COLUMNS,
    bug_fts_values,
    bug_values,
    event_values,
    insert_sql,
)
from store.sqlite.schema import BUG_FTS_COLUMNS
from store.sqlite.stack import stack_id

RESERVED_KEY = "bug_id_reserved"
INSERT_BUG_FTS = insert_sql("bugs_fts", ("rowid", *BUG_FTS_COLUMNS))
_INSERT_EVENT = insert_sql(
    "events", (*EVENT_ROW_COLUMNS, "text_id", "stack_id"), "INSERT OR IGNORE"
)


def write_bug(conn: sqlite3.Connection, bug: Bug, *, text: bool = True) -> None:
    """Rewrite a bug's row, and its full-text row unless `text` is False (text unchanged)."""
    conn.execute(insert_sql("bugs", BUG_COLUMNS, "REPLACE"), bug_values(bug))
    if not text:
        return
    conn.execute("DELETE FROM bugs_fts WHERE rowid = ?", (bug.id,))
    conn.execute(INSERT_BUG_FTS, [bug.id, *bug_fts_values(bug)])


def highest_bug_id(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT max(coalesce((SELECT max(id) FROM bugs), 0), "
        "coalesce((SELECT value FROM meta WHERE key = ?), 0))",
        (RESERVED_KEY,),
    ).fetchone()
    return int(row[0])


def set_reserved(conn: sqlite3.Connection, last: int) -> None:
    """Record `last` as the highest reserved bug id."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (RESERVED_KEY, last),
    )


def insert_event(conn: sqlite3.Connection, event: Event) -> bool:
    """Store one event unless its id is known; True when it was new."""
    ids = [event_text_id(conn, event), stack_id(conn, event.stack_trace)]
    cur = conn.execute(_INSERT_EVENT, [*event_values(event), *ids])
    return bool(cur.rowcount == 1)
