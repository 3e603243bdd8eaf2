"""The SQLite layout as the rest of store.sqlite reads it, and connection setup.

The full-text columns and their tokenizer, the columns of the covering indexes searches rely on,
how a connection is opened (WAL, busy timeout, page cache, memory map), and how times are stored:
integer microseconds since the epoch (UTC), so ranges and sorts are numeric. The versioned steps
that create and change the tables are in store/sqlite/migrations.py.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta

BUSY_TIMEOUT_MS = 10_000
#: Page cache per connection, and how much of the file is memory-mapped (SQLite caps it at its
#: compile-time limit, 2 GiB by default).
CACHE_KIB = 64 * 1024
MMAP_BYTES = 8 << 30

#: Full-text columns hold store.text.index_text() output, already tokenized and lowercased; the
#: FTS5 tokenizer only has to split on spaces and keep '_' inside tokens.
FTS_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '_'"

BUG_FTS_COLUMNS = ("message", "error_type", "file_path", "stack_trace", "failure_reason")
EVENT_FTS_COLUMNS = ("message", "error_type", "file_path", "stack_trace")

#: Columns of the bugs_facets index (migration v2; with the rowid, `id`): a search reading only
#: these can count and facet from the index alone.
BUG_FACETS_INDEX_COLUMNS = frozenset(
    ("status", "source", "level", "environment", "error_type", "project_id", "count", "last_seen",
     "id")
)  # fmt: skip
#: Columns of the events_text index (migration v3; with the rowid, `seq`).
EVENT_TEXT_INDEX_COLUMNS = frozenset(
    ("text_id", "timestamp", "id", "level", "project_id", "environment", "version", "source",
     "error_type", "seq")
)  # fmt: skip


def connect(path: str) -> sqlite3.Connection:
    """Open `path` in autocommit mode (transactions are explicit) with WAL and a busy timeout."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _use_wal(conn, path)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    # Searches read large index ranges and sort into temporary tables: keep those in memory,
    # and read the file through a memory map instead of a read() per page.
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    return conn


def _use_wal(conn: sqlite3.Connection, path: str) -> None:
    """Switch a file to WAL. The switch can report "locked" without waiting on the busy
    handler while another process makes the same switch on a new file, so retry it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"{path}: cannot switch to WAL (journal_mode={mode})")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """A datetime as integer microseconds since the epoch; naive values are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)
