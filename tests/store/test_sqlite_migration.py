"""SQLite schema migrations, each on a file made by undoing the step by hand.

v2 -> v3: events move from a per-event full-text index to one per distinct text. A v2 file is
made from a seeded store by undoing v3 (per-event `events_fts` rows, no `event_texts`), then
opened again: the migration must rebuild what v3 holds and every event search must answer as
before.

v3 -> v4: projects gain a toolchain, and `auto_repair` a third state (unset).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from store.retention import Cutoffs
from store.search import EventQuery
from store.sqlite import SQLiteStore
from store.sqlite.migrations import SCHEMA_VERSION
from store.sqlite.rows import unpack
from store.sqlite.schema import EVENT_FTS_COLUMNS, FTS_TOKENIZER
from tests.store.datagen import START, generate

QUERIES: list[dict[str, Any]] = [
    {"q": "timeout", "facets": ("project_id", "environment"), "interval_seconds": 86400},
    {"q": "连接 AND level:ERROR", "start": START, "end": START + timedelta(days=3)},
    {"q": 'message:"connection refused"', "size": 7, "page": 2},
    {"q": "stack_trace:handler* OR environment:dev", "facets": ("version",)},
    {"q": "", "filters": {"project_id": ["shop-api"]}, "interval_seconds": 3600},
]


def _answers(store: SQLiteStore) -> list[dict[str, Any]]:
    return [store.search_events(EventQuery(**q)).model_dump() for q in QUERIES]


def _undo_later_steps(conn: sqlite3.Connection) -> None:
    """Undo the steps after v4 that add tables of their own (saved searches, alerts, bug
    aliases, stacks) or columns to bugs (v10: release-aware regressions)."""
    for table in (
        "saved_searches", "alert_channels", "alert_rules", "alert_deliveries", "bug_aliases"
    ):
        conn.execute(f"DROP TABLE {table}")
    for column in ("newest_version", "fixed_version"):
        conn.execute(f"ALTER TABLE bugs DROP COLUMN {column}")
    _undo_stacks(conn)


def _undo_stacks(conn: sqlite3.Connection) -> None:
    """Each event carries its stack trace again (as JSON text), and `stacks` goes."""
    conn.execute("ALTER TABLE events ADD COLUMN stack_trace TEXT NOT NULL DEFAULT '[]'")
    bodies = dict(conn.execute("SELECT id, body FROM stacks").fetchall())
    rows = conn.execute("SELECT seq, stack_id FROM events WHERE stack_id IS NOT NULL").fetchall()
    conn.executemany(
        "UPDATE events SET stack_trace = ? WHERE seq = ?",
        [(orjson.dumps(unpack(bodies[stack])).decode(), seq) for seq, stack in rows],
    )
    conn.execute("DROP INDEX events_stack")
    conn.execute("ALTER TABLE events DROP COLUMN stack_id")
    conn.execute("DROP TABLE stacks")


def _undo_v3(path: Path) -> None:
    columns = ", ".join(EVENT_FTS_COLUMNS)
    with sqlite3.connect(path) as conn:
        _undo_later_steps(conn)
        conn.execute(
            f'CREATE VIRTUAL TABLE events_fts USING fts5({columns}, tokenize = "{FTS_TOKENIZER}")'
        )
        conn.execute(
            f"INSERT INTO events_fts (rowid, {columns}) SELECT e.seq, "
            + ", ".join(f"t.{c}" for c in EVENT_FTS_COLUMNS)
            + " FROM events e JOIN event_texts_fts t ON t.rowid = e.text_id"
        )
        conn.execute("DROP INDEX events_text")
        conn.execute("ALTER TABLE events DROP COLUMN text_id")
        conn.execute("DROP TABLE event_texts_fts")
        conn.execute("DROP TABLE event_texts")
        conn.execute("PRAGMA user_version = 2")


def test_v2_file_migrates_and_answers_alike(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    data = generate(n_bugs=100, n_events=1000)
    store = SQLiteStore(f"sqlite:///{path}")
    store.init()
    data.seed(store)
    before = _answers(store)
    texts = store._connection().execute("SELECT count(*) FROM event_texts").fetchone()[0]
    store.close()
    assert 0 < texts < len(data.events)

    _undo_v3(path)
    store = SQLiteStore(f"sqlite:///{path}")
    store.init()
    conn = store._connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3
    assert conn.execute("SELECT count(*) FROM event_texts").fetchone()[0] == texts
    assert conn.execute("SELECT count(*) FROM events WHERE text_id IS NULL").fetchone()[0] == 0
    assert _answers(store) == before
    assert before[0]["total"] > 0 and before[2]["items"]
    store.close()


def test_purge_drops_texts_no_event_uses(tmp_path: Path) -> None:
    data = generate(n_bugs=100, n_events=1000)
    store = SQLiteStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.init()
    data.seed(store)
    conn = store._connection()
    store.purge_events(Cutoffs(max(e.timestamp for e in data.events) + timedelta(seconds=1)))
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM event_texts").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM event_texts_fts").fetchone()[0] == 0
    assert store.search_events(EventQuery(q="timeout")).total == 0
    store.close()


_V3_PROJECTS = """
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
"""


def test_v3_projects_keep_their_settings_and_an_untouched_auto_repair_becomes_unset(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(f"sqlite:///{path}")
    store.init()
    store.close()
    with sqlite3.connect(path) as conn:
        _undo_later_steps(conn)
        conn.execute("DROP TABLE projects")
        conn.execute(_V3_PROJECTS)
        for n, (project, auto) in enumerate((("shop", 0), ("blog", 1), ("wiki", 0)), 1):
            conn.execute(
                "INSERT INTO projects (project_id, local_path, auto_repair, ingest_key, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (project, f"/src/{project}", auto, f"key-{n}", n, n),
            )
        conn.execute("PRAGMA user_version = 3")

    store = SQLiteStore(f"sqlite:///{path}")
    store.init()
    projects = {p.project_id: p for p in store.list_projects()}
    assert {k: (p.id, p.auto_repair, p.toolchain) for k, p in projects.items()} == {
        "shop": (1, None, None),
        "blog": (2, True, None),
        "wiki": (3, None, None),
    }
    assert [projects[k].ingest_key for k in ("shop", "blog", "wiki")] == ["key-1", "key-2", "key-3"]
    assert projects["blog"].local_path == "/src/blog"
    # Each project made before DSN keys existed got a key of its own.
    keys = {p.public_key for p in projects.values()}
    assert len(keys) == 3 and all(re.fullmatch("[0-9a-f]{32}", str(k)) for k in keys)
    # Ids go on from the highest one; false now stays false.
    assert store.update_project("docs", {"auto_repair": False}).id == 4
    assert store.get_project("docs").auto_repair is False  # type: ignore[union-attr]
    store.close()
