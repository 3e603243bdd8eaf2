"""Versioned migrations of the SQLite schema (store/sqlite/schema.py holds the layout they build).

The schema version lives in `PRAGMA user_version`; each entry of MIGRATIONS moves it up by one.
`migrate()` runs under `BEGIN IMMEDIATE`, so two processes starting at once apply each step once:
the second waits for the first (busy_timeout) and then finds nothing left to do.

A module of its own, apart from the layout: a step may call the code that keeps a table (v3
backfills event texts with store/sqlite/event_text.py), and that code reads the layout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from store.models import new_public_key
from store.sqlite.event_text import backfill
from store.sqlite.schema import BUG_FTS_COLUMNS, EVENT_FTS_COLUMNS, FTS_TOKENIZER
from store.sqlite.stack import copy_events

#: A migration step: an SQL statement, or a function for what SQL alone cannot do (backfills).
Step = str | Callable[[sqlite3.Connection], None]

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
#: Events are full-text indexed once per distinct text (store/sqlite/event_text.py) instead of
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
    backfill,
    "DROP TABLE events_fts",
    # Finds a text's events in a time window and covers what facets, histograms and pages
    # read of them, so a search never reads the wide event rows of all its hits.
    "CREATE INDEX events_text ON events (text_id, timestamp, id, level, project_id, "
    "environment, version, source, error_type)",
)
#: Projects gain the toolchain a repair worker last reported, and `auto_repair` takes three
#: states: NULL follows LOGCENTER_AUTO_REPAIR, 0 and 1 override it. SQLite cannot drop a NOT
#: NULL constraint, so the table is rebuilt; a stored 0 was the old default ("not asked for"),
#: so it becomes NULL, while a 1 someone set stays.
_PROJECT_KEPT = (
    "id, project_id, name, repo_url, local_path, description, test_command, default_branch, "
    "ingest_key, created_at, updated_at"
)
_V4: tuple[Step, ...] = (
    """
    CREATE TABLE projects_v4 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id TEXT NOT NULL UNIQUE,
        name TEXT,
        repo_url TEXT,
        local_path TEXT,
        description TEXT,
        test_command TEXT,
        default_branch TEXT,
        auto_repair INTEGER,
        ingest_key TEXT,
        toolchain TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )
    """,
    f"INSERT INTO projects_v4 ({_PROJECT_KEPT}, auto_repair) "
    f"SELECT {_PROJECT_KEPT}, nullif(auto_repair, 0) FROM projects",
    "DROP TABLE projects",
    "ALTER TABLE projects_v4 RENAME TO projects",
)
#: Projects keep why the last repo_url a report sent was ignored.
_V5: tuple[Step, ...] = ("ALTER TABLE projects ADD COLUMN repo_url_warning TEXT",)

#: Discover's saved searches (name unique; the search itself as JSON).
_V6: tuple[Step, ...] = (
    """
    CREATE TABLE saved_searches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        body TEXT NOT NULL
    )
    """,
)


def _give_public_keys(conn: sqlite3.Connection) -> None:
    """Projects made before DSN keys existed get one each."""
    ids = [row[0] for row in conn.execute("SELECT id FROM projects WHERE public_key IS NULL")]
    conn.executemany(
        "UPDATE projects SET public_key = ? WHERE id = ?", [(new_public_key(), i) for i in ids]
    )


#: Projects gain the public key of their Sentry DSN (store.models.Project.public_key) and how
#: their reports are grouped into bugs (NULL: the default).
_V7: tuple[Step, ...] = (
    "ALTER TABLE projects ADD COLUMN public_key TEXT",
    _give_public_keys,
    "ALTER TABLE projects ADD COLUMN grouping TEXT",
)

#: Alert channels, rules and deliveries (store/sqlite/alerts.py): few rows, read whole, so each
#: is one JSON body; deliveries are listed per channel, newest first. Projects gain the
#: language of their alert messages.
_V8: tuple[Step, ...] = (
    "ALTER TABLE projects ADD COLUMN language TEXT",
    "CREATE TABLE alert_channels (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, "
    "created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    "CREATE TABLE alert_rules (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, "
    "created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    "CREATE TABLE alert_deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "channel_id INTEGER NOT NULL, created_at INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX alert_deliveries_channel ON alert_deliveries (channel_id, id)",
)
#: Projects gain their own retention (store.retention); NULL follows the install's default.
_V9: tuple[Step, ...] = ("ALTER TABLE projects ADD COLUMN retention_days INTEGER",)
#: Bugs gain the newest version their occurrences came from and the version they were fixed
#: in (release-aware regressions, store/version.py); NULL for bugs stored before: they learn
#: their newest version from their next occurrence.
_V10: tuple[Step, ...] = (
    "ALTER TABLE bugs ADD COLUMN newest_version TEXT",
    "ALTER TABLE bugs ADD COLUMN fixed_version TEXT",
)
#: A bug's page counts its occurrences by time, environment and version: with only (bug_id,
#: timestamp, id) indexed, that read the wide row (stack, context) of every occurrence, ~90,000
#: for the most frequent bug of a million events. This index covers those reads, and replaces
#: events_bug, its prefix, for everything else read by bug.
_V11: tuple[Step, ...] = (
    "CREATE INDEX IF NOT EXISTS events_bug_seen ON events (bug_id, timestamp, id, environment, "
    "version)",
    "DROP INDEX IF EXISTS events_bug",
)
#: Merged bugs: each merged fingerprint answers the bug it was merged into (`bug_id`);
#: `merged_id` is the id it had, so its occurrences still in flight land on the target.
_V12: tuple[Step, ...] = (
    """
    CREATE TABLE bug_aliases (
        fingerprint TEXT PRIMARY KEY,
        bug_id INTEGER NOT NULL,
        merged_id INTEGER NOT NULL UNIQUE,
        merged_at INTEGER NOT NULL
    )
    """,
    "CREATE INDEX bug_aliases_bug ON bug_aliases (bug_id)",
)


def _replace_copied_events(conn: sqlite3.Connection) -> None:
    """Put the copy v13 made in place of `events`, with every index `events` had.

    The old table is dropped without zeroing each freed page (Debian's SQLite does by
    default): its data lives on in the copy, and zeroing wrote the whole old table to the WAL
    once more, doubling the disk a 4 GB file needed while it migrates. Its indexes are built
    again from their own definitions, whichever steps made them."""
    indexes = [
        str(row[0])
        for row in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
            "AND sql IS NOT NULL ORDER BY name"
        )
    ]
    mode = int(conn.execute("PRAGMA secure_delete").fetchone()[0])
    conn.execute("PRAGMA secure_delete = FAST")
    try:
        conn.execute("DROP TABLE events")
    finally:
        conn.execute(f"PRAGMA secure_delete = {mode}")
    conn.execute("ALTER TABLE events_v13 RENAME TO events")
    for sql in indexes:
        conn.execute(sql)


#: Each distinct stack trace is kept once (store/sqlite/stack.py) and long event contexts are
#: compressed (store/sqlite/rows.py): every event carried its bug's whole stack again, most of
#: the file. Events are copied into a table without the stack column, a batch at a time, so
#: memory stays flat and the new table is compact; the old one's pages go to the free list,
#: which new data reuses (only VACUUM gives them back to the disk: README, Running at scale,
#: Sizing). The indexes the table had are built again on the copy, plus one on stack_id that
#: tells a purge whether a stack is still used. Bug rows are left as they are.
_V13: tuple[Step, ...] = (
    "CREATE TABLE stacks (id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE, body NOT NULL)",
    """
    CREATE TABLE events_v13 (
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
        context NOT NULL, -- JSON text, or zlib-compressed JSON as a BLOB
        text_id INTEGER,
        stack_id INTEGER
    )
    """,
    copy_events,
    _replace_copied_events,
    "CREATE INDEX events_stack ON events (stack_id)",
)
#: MIGRATIONS[n] takes the schema from version n to n + 1. Append; never edit a shipped step.
MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    _V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11, _V12, _V13,
)  # fmt: skip

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, upto: int = SCHEMA_VERSION) -> int:
    """Apply the missing migration steps in one write transaction; return the schema version.

    An up-to-date file is only read, so a process can start on a full disk (and wait for it).
    `upto` stops at an earlier version (tests build the files older code left).
    """
    if int(conn.execute("PRAGMA user_version").fetchone()[0]) == upto:
        return upto
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > upto:
            raise RuntimeError(
                f"database schema version {version} is newer than this code ({upto})"
            )
        for step in MIGRATIONS[version:upto]:
            for statement in step:
                if callable(statement):
                    statement(conn)
                else:
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {upto}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back by itself (disk full)
            conn.execute("ROLLBACK")
        raise
    return upto
