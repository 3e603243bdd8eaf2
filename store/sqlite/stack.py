"""Stack traces of events, kept once per distinct trace.

A bug's occurrences nearly always carry the same stack, a few kilobytes each: stored on every
event row it was most of the file (3.7 of 4.5 GB at the search benchmark's million events).
`stacks` holds each distinct trace once, keyed by a digest of its JSON and compressed
(store.sqlite.rows.pack); `events.stack_id` points at it, NULL for an event without a stack.
"""

from __future__ import annotations

import hashlib
import sqlite3

import orjson

from store.sqlite.rows import EVENT_ROW_COLUMNS, insert_sql, pack

_SELECT = "SELECT id FROM stacks WHERE digest = ?"
_INSERT = "INSERT INTO stacks (digest, body) VALUES (?, ?)"
#: Rows converted per statement batch by the migration.
_BATCH = 5_000


def stack_id(conn: sqlite3.Connection, stack: list[str]) -> int | None:
    """The id of this stack trace, stored on first sight; None for an empty one."""
    if not stack:
        return None
    text = orjson.dumps(stack)
    digest = hashlib.blake2b(text, digest_size=16).digest()
    row = conn.execute(_SELECT, (digest,)).fetchone()
    if row is not None:
        return int(row[0])
    return int(conn.execute(_INSERT, (digest, pack(text))).lastrowid)  # type: ignore[arg-type]


def purge_unused_stacks(conn: sqlite3.Connection) -> None:
    """Drop stacks no event points at any more (after events were deleted)."""
    conn.execute(
        "DELETE FROM stacks WHERE NOT EXISTS (SELECT 1 FROM events WHERE stack_id = stacks.id)"
    )


def copy_events(conn: sqlite3.Connection) -> None:
    """Migration step: copy `events` into `events_v13`, each row with its `stack_id` in place
    of its stack and its context packed, a batch at a time (memory stays flat on a large file).

    A copy rather than an update in place: rows that shrink from kilobytes to a few hundred
    bytes leave their pages nearly empty, where fresh rows fill them."""
    kept = ", ".join(f'"{c}"' for c in ("seq", *EVENT_ROW_COLUMNS, "text_id"))
    insert = insert_sql("events_v13", ("seq", *EVENT_ROW_COLUMNS, "text_id", "stack_id"))
    context = EVENT_ROW_COLUMNS.index("context") + 1
    last = 0
    while True:
        rows = conn.execute(
            f"SELECT {kept}, stack_trace FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (last, _BATCH),
        ).fetchall()
        if not rows:
            return
        copies = []
        for row in rows:
            values = list(row)
            values[context] = _repack(values[context])
            values[-1] = stack_id(conn, orjson.loads(values[-1]))
            copies.append(values)
        conn.executemany(insert, copies)
        last = rows[-1][0]


def _repack(value: str | bytes) -> str | bytes:
    return value if isinstance(value, bytes) else pack(value.encode())
