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

from store.sqlite.rows import pack

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


def move_stacks(conn: sqlite3.Connection) -> None:
    """Migration step: give every event its `stack_id` from its own `stack_trace` column and
    compress its context, a batch of rows at a time (memory stays flat on a large file)."""
    last = 0
    while True:
        rows = conn.execute(
            "SELECT seq, stack_trace, context FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (last, _BATCH),
        ).fetchall()
        if not rows:
            return
        conn.executemany(
            "UPDATE events SET stack_id = ?, context = ? WHERE seq = ?",
            [(stack_id(conn, orjson.loads(s)), _repack(c), seq) for seq, s, c in rows],
        )
        last = rows[-1][0]


def pack_bug_values(conn: sqlite3.Connection) -> None:
    """Migration step: compress the long JSON values of bug rows written before packing."""
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, stack_trace, context, status_history FROM bugs WHERE id > ? "
            "ORDER BY id LIMIT ?",
            (last, _BATCH),
        ).fetchall()
        if not rows:
            return
        conn.executemany(
            "UPDATE bugs SET stack_trace = ?, context = ?, status_history = ? WHERE id = ?",
            [(_repack(s), _repack(c), _repack(h), i) for i, s, c, h in rows],
        )
        last = rows[-1][0]


def _repack(value: str | bytes) -> str | bytes:
    return value if isinstance(value, bytes) else pack(value.encode())
