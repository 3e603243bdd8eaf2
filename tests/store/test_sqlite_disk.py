"""Disk per occurrence on SQLite: each distinct stack trace stored once, long contexts compressed.

Events read back exactly as written, through every reader (get_event, a bug's events, search,
export); a purge drops the stacks no event uses any more; a file written before stacks were kept
apart is converted by its migration and reads alike.
"""

from __future__ import annotations

import sqlite3
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from store.models import Bug, BugCreate, Event
from store.record import from_records
from store.retention import Cutoffs
from store.search import EventQuery
from store.sqlite import SQLiteStore
from store.sqlite.event_text import event_text_id
from store.sqlite.migrations import _V13, MIGRATIONS, SCHEMA_VERSION, migrate
from store.sqlite.rows import BUG_COLUMNS, EVENT_ROW_COLUMNS, bug_values, event_values, insert_sql
from store.sqlite.schema import connect

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _stack(name: str, lines: int = 30) -> list[str]:
    return ["Traceback (most recent call last):"] + [
        f'  File "/srv/app/{name}/module_{i}.py", line {10 + i}, in handler_{name}_{i}'
        for i in range(lines)
    ]


BIG_CONTEXT = {"request": {"headers": {f"x-header-{i}": "value " * 20 for i in range(40)}}}


def _bug(bug_id: int, stack: list[str]) -> BugCreate:
    return BugCreate(
        id=bug_id, fingerprint=f"fp-{bug_id}", project_id="shop", error_type="KeyError",
        message=f"missing key {bug_id}", file_path="app/views.py", line_number=3,
        stack_trace=stack, context=BIG_CONTEXT, first_seen=T0,
    )  # fmt: skip


def _event(n: int, bug: BugCreate, **changes: Any) -> Event:
    fields = {
        "id": f"ev-{n}", "bug_id": bug.id, "fingerprint": bug.fingerprint,
        "timestamp": T0 + timedelta(minutes=n), "project_id": bug.project_id,
        "error_type": bug.error_type, "message": bug.message, "file_path": bug.file_path,
        "line_number": bug.line_number, "context": {"n": n}, "stack_trace": bug.stack_trace,
    }  # fmt: skip
    return Event.model_validate({**fields, **changes})


BUGS = [_bug(1, _stack("orders")), _bug(2, _stack("payments")), _bug(3, [])]
EVENTS = [
    *(_event(n, BUGS[0]) for n in range(4)),
    *(_event(n, BUGS[1]) for n in range(4, 7)),
    _event(7, BUGS[2]),
    _event(8, BUGS[0], context=BIG_CONTEXT),
]


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    opened = SQLiteStore(f"sqlite:///{tmp_path / 'store.db'}")
    opened.init()
    return opened


def _seeded(store: SQLiteStore) -> SQLiteStore:
    store.create_bugs(BUGS)
    store.add_events(EVENTS)
    return store


def _count(store: SQLiteStore, sql: str) -> int:
    return int(store._connection().execute(sql).fetchone()[0])


def _read_back(store: SQLiteStore) -> dict[str, list[Event]]:
    """The events as every reader returns them, each list in EVENTS' order."""
    order = {e.id: n for n, e in enumerate(EVENTS)}
    pages = [store.get_events(bug.id).items for bug in BUGS]
    records, _ = store.export_records("events", None, 100)
    readers: dict[str, list[Event]] = {
        "get_event": [e for e in (store.get_event(x.id) for x in EVENTS) if e is not None],
        "get_events": [e for page in pages for e in page],
        "search_events": store.search_events(EventQuery(size=100)).items,
        "export_records": from_records("events", records),
    }
    return {name: sorted(events, key=lambda e: order[e.id]) for name, events in readers.items()}


def test_occurrences_of_one_stack_store_it_once_and_read_back_alike(store: SQLiteStore) -> None:
    _seeded(store)
    assert _count(store, "SELECT count(*) FROM stacks") == 2
    assert _count(store, "SELECT count(*) FROM events WHERE stack_id IS NULL") == 1
    for name, events in _read_back(store).items():
        assert events == EVENTS, name
    assert store.search_events(EventQuery(q="stack_trace:*")).total == len(EVENTS) - 1
    assert store.search_events(EventQuery(q="handler_payments_7")).total == 3


def test_large_event_contexts_and_stacks_are_stored_compressed(store: SQLiteStore) -> None:
    _seeded(store)
    conn = store._connection()
    body = conn.execute("SELECT body FROM stacks ORDER BY id LIMIT 1").fetchone()[0]
    context = conn.execute("SELECT context FROM events WHERE id = 'ev-8'").fetchone()[0]
    small = conn.execute("SELECT context FROM events WHERE id = 'ev-0'").fetchone()[0]
    bug = conn.execute("SELECT stack_trace, context FROM bugs WHERE id = 1").fetchone()
    assert isinstance(body, bytes) and len(body) < len(str(EVENTS[0].stack_trace))
    assert isinstance(context, bytes) and len(context) < len(str(BIG_CONTEXT)) // 10
    assert small == '{"n":0}'
    assert all(isinstance(value, str) for value in bug)  # read whole by every bug list page
    assert store.get_event("ev-8") == EVENTS[-1]
    got = store.get_bug(1)
    assert got is not None and (got.stack_trace, got.context) == (BUGS[0].stack_trace, BIG_CONTEXT)


def test_purge_drops_the_stacks_no_event_uses(store: SQLiteStore) -> None:
    _seeded(store)
    # Everything before ev-5: all of bug 1's first events, and bug 2's first one.
    store.purge_events(Cutoffs(T0 + timedelta(minutes=5)))
    assert _count(store, "SELECT count(*) FROM stacks") == 2  # ev-8 still uses bug 1's
    store.purge_events(Cutoffs(T0 + timedelta(minutes=8)))
    assert _count(store, "SELECT count(*) FROM stacks") == 1
    assert store.get_event("ev-8") == EVENTS[-1]
    assert store.search_events(EventQuery(q="handler_payments_7")).total == 0
    store.purge_events(Cutoffs(T0 + timedelta(minutes=9)))
    assert _count(store, "SELECT count(*) FROM stacks") == 0


# -- the migration --------------------------------------------------------------------------


def _plain(values: list[Any]) -> list[Any]:
    """Row values as code before compression wrote them (JSON text)."""
    return [zlib.decompress(v).decode() if isinstance(v, bytes) else v for v in values]


def _file_before_stacks(path: Path) -> None:
    """A file at the version before stacks moved out, holding BUGS and EVENTS as written then."""
    conn = connect(str(path))
    migrate(conn, MIGRATIONS.index(_V13))
    event_sql = insert_sql("events", (*EVENT_ROW_COLUMNS, "text_id", "stack_trace"))
    conn.execute("BEGIN")
    for new in BUGS:
        fields = new.model_dump(include=set(BugCreate.model_fields))
        bug = Bug(**fields, last_seen=T0, created_at=T0, updated_at=T0, revision=1)
        conn.execute(insert_sql("bugs", BUG_COLUMNS), _plain(bug_values(bug)))
    for event in EVENTS:
        stack = orjson.dumps(event.stack_trace).decode()
        row = [*_plain(event_values(event)), event_text_id(conn, event), stack]
        conn.execute(event_sql, row)
    conn.execute("COMMIT")
    conn.close()


_EVENT_INDEXES = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"


def test_a_file_from_before_stacks_is_converted_and_reads_alike(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    _file_before_stacks(path)
    with sqlite3.connect(path) as old:
        long = old.execute("SELECT count(*) FROM events WHERE length(stack_trace) > 1000")
        assert long.fetchone()[0] == len(EVENTS) - 1
        pages = old.execute("SELECT count(*) FROM dbstat WHERE name = 'events'").fetchone()[0]
        assert pages >= len(EVENTS) / 3
        indexes = {row[0] for row in old.execute(_EVENT_INDEXES)}
    store = SQLiteStore(f"sqlite:///{path}")
    store.init()
    conn = store._connection()
    columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "stack_trace" not in columns and "stack_id" in columns
    # Every index the events table had is there again, whichever step made it.
    assert {row[0] for row in conn.execute(_EVENT_INDEXES)} == indexes | {"events_stack"}
    assert "events_bug_seen" in indexes
    assert _count(store, "SELECT count(*) FROM stacks") == 2
    assert _count(store, "SELECT count(*) FROM events WHERE typeof(context) = 'blob'") == 1
    # Compact: not each shrunk row left alone on its old page.
    assert _count(store, "SELECT count(*) FROM dbstat WHERE name = 'events'") < len(EVENTS) / 3
    for name, events in _read_back(store).items():
        assert events == EVENTS, name
    bugs = [store.get_bug(b.id) for b in BUGS]
    assert [(b.stack_trace, b.context) for b in bugs if b] == [
        (b.stack_trace, b.context) for b in BUGS
    ]
    assert store.search_events(EventQuery(q="handler_orders_3")).total == 5
    store.close()
