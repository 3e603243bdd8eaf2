"""Full-text index of events, one entry per distinct text rather than one per event.

The occurrences of a bug nearly always carry the same message, error type, file and stack
trace, so indexing each event's tokens repeated the same few kilobytes a million times (most of
the database file) and made a common word match hundreds of thousands of FTS rows, read again by
every statement of a search. Instead `event_texts` holds each distinct token tuple once (keyed by
a digest), `event_texts_fts` indexes it, and `events.text_id` points at it: a word matches a few
thousand texts, and events are found by `text_id`.
"""

from __future__ import annotations

import hashlib
import sqlite3

from store.models import Event
from store.sqlite.rows import event_fts_values
from store.sqlite.schema import EVENT_FTS_COLUMNS

_SELECT = "SELECT id FROM event_texts WHERE digest = ?"
_INSERT = "INSERT INTO event_texts (digest) VALUES (?)"
_INSERT_FTS = (
    f"INSERT INTO event_texts_fts (rowid, {', '.join(EVENT_FTS_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' for _ in EVENT_FTS_COLUMNS)})"
)


def _digest(values: list[str]) -> bytes:
    return hashlib.blake2b("\x1f".join(values).encode(), digest_size=16).digest()


def text_id(conn: sqlite3.Connection, values: list[str]) -> int:
    """The id of the text with these index_text() column values, indexed on first sight."""
    digest = _digest(values)
    row = conn.execute(_SELECT, (digest,)).fetchone()
    if row is not None:
        return int(row[0])
    new = conn.execute(_INSERT, (digest,)).lastrowid
    conn.execute(_INSERT_FTS, [new, *values])
    return int(new)  # type: ignore[arg-type]


def event_text_id(conn: sqlite3.Connection, event: Event) -> int:
    """`events.text_id` for a new event (call inside the write transaction that stores it)."""
    return text_id(conn, event_fts_values(event))


def purge_unused_texts(conn: sqlite3.Connection) -> None:
    """Drop texts no event points at any more (after events were deleted)."""
    unused = (
        "SELECT id FROM event_texts t WHERE NOT EXISTS (SELECT 1 FROM events WHERE text_id = t.id)"
    )
    conn.execute(f"DELETE FROM event_texts_fts WHERE rowid IN ({unused})")
    conn.execute(f"DELETE FROM event_texts WHERE id IN ({unused})")


def backfill(conn: sqlite3.Connection) -> None:
    """Migration step: give every event of the per-event index (`events_fts`) its text id."""
    rows = conn.execute(
        f"SELECT rowid, {', '.join(EVENT_FTS_COLUMNS)} FROM events_fts ORDER BY rowid"
    )
    batch: list[tuple[int, int]] = []
    for row in rows:
        batch.append((text_id(conn, list(row[1:])), row[0]))
        if len(batch) >= 10_000:
            conn.executemany("UPDATE events SET text_id = ? WHERE seq = ?", batch)
            batch.clear()
    conn.executemany("UPDATE events SET text_id = ? WHERE seq = ?", batch)
