"""SQLite schema, versioned migrations and connection setup for store.sqlite.

The schema version lives in `PRAGMA user_version`; each entry of MIGRATIONS moves it up by one.
`migrate()` runs under `BEGIN IMMEDIATE`, so two processes starting at once apply each step once:
the second waits for the first (busy_timeout) and then finds nothing left to do.

Times are stored as integer microseconds since the epoch (UTC) so ranges and sorts are numeric.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

BUSY_TIMEOUT_MS = 10_000
#: Page cache per connection, and how much of the file is memory-mapped (SQLite caps it at its
#: compile-time limit, 2 GiB by default).
CACHE_KIB = 64 * 1024
MMAP_BYTES = 8 << 30

#: A migration step: an SQL statement, or a function for what SQL alone cannot do (backfills).
Step = str | Callable[[sqlite3.Connection], None]

#: Full-text columns hold store.text.index_text() output, already tokenized and lowercased; the
#: FTS5 tokenizer only has to split on spaces and keep '_' inside tokens.
FTS_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '_'"

BUG_FTS_COLUMNS = ("message", "error_type", "file_path", "stack_trace", "failure_reason")
EVENT_FTS_COLUMNS = ("message", "error_type", "file_path", "stack_trace")

_V1 = (
    """
    CREATE TABLE bugs (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        project_id TEXT NOT NULL,
        source TEXT NOT NULL,
        environment TEXT NOT NULL,
        level TEXT NOT NULL,
        error_type TEXT NOT NULL,
        message TEXT NOT NULL,
        file_path TEXT,
        line_number INTEGER,
        stack_trace TEXT NOT NULL,
        context TEXT NOT NULL,
        version TEXT,
        commit_hash TEXT,
        status TEXT NOT NULL,
        failure_reason TEXT,
        count INTEGER NOT NULL DEFAULT 0,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        regression_count INTEGER NOT NULL DEFAULT 0,
        status_history TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1
    )
    """,
    "CREATE INDEX bugs_last_seen ON bugs (last_seen, id)",
    "CREATE INDEX bugs_first_seen ON bugs (first_seen, id)",
    "CREATE INDEX bugs_count ON bugs (count, id)",
    "CREATE INDEX bugs_project_status ON bugs (project_id, status)",
    f"""
    CREATE VIRTUAL TABLE bugs_fts USING fts5(
        {", ".join(BUG_FTS_COLUMNS)}, tokenize = "{FTS_TOKENIZER}"
    )
    """,
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        bug_id INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        project_id TEXT NOT NULL,
        environment TEXT NOT NULL,
        level TEXT NOT NULL,
        source TEXT NOT NULL,
        version TEXT,
        commit_hash TEXT,
        error_type TEXT NOT NULL,
        message TEXT NOT NULL,
        file_path TEXT,
        line_number INTEGER,
        context TEXT NOT NULL,
        stack_trace TEXT NOT NULL
    )
    """,
    "CREATE INDEX events_timestamp ON events (timestamp, id)",
    "CREATE INDEX events_bug ON events (bug_id, timestamp, id)",
    f"""
    CREATE VIRTUAL TABLE events_fts USING fts5(
        {", ".join(EVENT_FTS_COLUMNS)}, tokenize = "{FTS_TOKENIZER}"
    )
    """,
    """
    CREATE TABLE projects (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id TEXT NOT NULL UNIQUE,
        name TEXT,
        repo_url TEXT,
        local_path TEXT,
        description TEXT,
        test_command TEXT,
        default_branch TEXT,
        auto_repair INTEGER NOT NULL DEFAULT 0,
        ingest_key TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE repair_reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bug_id INTEGER NOT NULL,
        project_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        body TEXT NOT NULL
    )
    """,
    "CREATE INDEX repair_reports_bug ON repair_reports (bug_id, round, id)",
    "CREATE INDEX repair_reports_project ON repair_reports (project_id, created_at)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)

#: Covering indexes for facets, counts and histograms: bug and event rows carry stack traces
#: and context (kilobytes each), so a GROUP BY or count over them read every wide row; these
#: let SQLite answer from the index alone (bench/search.py at 1M events).
_V2 = (
    "CREATE INDEX bugs_facets ON bugs (status, source, level, environment, error_type, "
    "project_id, count, last_seen)",
    "CREATE INDEX events_project_time ON events (project_id, timestamp)",
    "CREATE INDEX events_facets ON events (timestamp, level, project_id, environment, "
    "version, source, error_type)",
)
#: Columns of the bugs_facets index (with the rowid, `id`): a search reading only these can
#: count and facet from the index alone.
BUG_FACETS_INDEX_COLUMNS = frozenset(
    ("status", "source", "level", "environment", "error_type", "project_id", "count", "last_seen",
     "id")
)  # fmt: skip


def _backfill_event_texts(conn: sqlite3.Connection) -> None:
    from store.sqlite.event_text import backfill  # imports this module

    backfill(conn)


#: Events are full-text indexed once per distinct text (store/sqlite_event_text.py) instead of
#: once per event: the per-event index was most of the file, and a common word matched most
#: events in every statement of a search.
_V3: tuple[Step, ...] = (
    "CREATE TABLE event_texts (id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE)",
    f"""
    CREATE VIRTUAL TABLE event_texts_fts USING fts5(
        {", ".join(EVENT_FTS_COLUMNS)}, tokenize = "{FTS_TOKENIZER}"
    )
    """,
    "ALTER TABLE events ADD COLUMN text_id INTEGER",
    _backfill_event_texts,
    "DROP TABLE events_fts",
    # Finds a text's events in a time window and covers what facets, histograms and pages
    # read of them, so a search never reads the wide event rows of all its hits.
    "CREATE INDEX events_text ON events (text_id, timestamp, id, level, project_id, "
    "environment, version, source, error_type)",
)
#: Columns of the events_text index (with the rowid, `seq`).
EVENT_TEXT_INDEX_COLUMNS = frozenset(
    ("text_id", "timestamp", "id", "level", "project_id", "environment", "version", "source",
     "error_type", "seq")
)  # fmt: skip

#: MIGRATIONS[n] takes the schema from version n to n + 1. Append; never edit a shipped step.
MIGRATIONS: tuple[tuple[Step, ...], ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


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


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the missing migration steps in one write transaction; return the schema version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {version} is newer than this code ({SCHEMA_VERSION})"
            )
        for step in MIGRATIONS[version:]:
            for statement in step:
                if callable(statement):
                    statement(conn)
                else:
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """A datetime as integer microseconds since the epoch; naive values are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)
