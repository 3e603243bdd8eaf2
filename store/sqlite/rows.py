"""Conversions between the store's pydantic models and SQLite rows (JSON, epoch micros).

An event's context of `PACK_MIN_BYTES` or more is stored zlib-compressed as a BLOB, a smaller
one as TEXT: the column's type says which, so rows written before compression read alike. Bug
rows keep plain JSON: a bug list page reads 50 of them whole, and unpacking their stacks cost
~0.5 ms a page (a tenth of a search), for a table that is a few percent of the file.
"""

from __future__ import annotations

import functools
import sqlite3
import zlib
from typing import Any

import orjson

from store.models import (
    Bug,
    Event,
    Project,
    RepairReport,
    RepairReportIn,
    SavedSearch,
    SavedSearchIn,
)
from store.sqlite.schema import BUG_FTS_COLUMNS, EVENT_FTS_COLUMNS, from_micros, to_micros
from store.text import index_text

BUG_COLUMNS = (
    "id", "fingerprint", "project_id", "source", "environment", "level", "error_type", "message",
    "file_path", "line_number", "stack_trace", "context", "version", "commit_hash", "status",
    "failure_reason", "count", "first_seen", "last_seen", "regression_count", "status_history",
    "created_at", "updated_at", "revision", "newest_version", "fixed_version",
)  # fmt: skip
EVENT_COLUMNS = (
    "id", "bug_id", "fingerprint", "timestamp", "project_id", "environment", "level", "source",
    "version", "commit_hash", "error_type", "message", "file_path", "line_number", "context",
    "stack_trace",
)  # fmt: skip
#: The columns of an `events` row; its stack trace is a `stacks` row (store/sqlite/stack.py).
EVENT_ROW_COLUMNS = tuple(c for c in EVENT_COLUMNS if c != "stack_trace")
#: What reads an event (EVENT_COLUMNS) from `events`: its row and its stack (NULL: no stack).
EVENT_FIELDS_SQL = (
    ", ".join(f'"{c}"' for c in EVENT_ROW_COLUMNS)
    + ", coalesce((SELECT body FROM stacks WHERE stacks.id = events.stack_id), '[]')"
    + " AS stack_trace"
)
PROJECT_COLUMNS = (
    "project_id", "name", "repo_url", "local_path", "description", "test_command",
    "default_branch", "auto_repair", "ingest_key", "toolchain", "repo_url_warning", "public_key",
    "language", "grouping", "retention_days", "created_at", "updated_at",
)  # fmt: skip
BUG_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in BUG_COLUMNS) + " FROM bugs"
PROJECT_SELECT = "SELECT " + ", ".join(("id", *PROJECT_COLUMNS)) + " FROM projects"

_JSON = frozenset({"stack_trace", "context", "status_history", "toolchain"})
_TIMES = frozenset({"first_seen", "last_seen", "created_at", "updated_at", "timestamp"})


def insert_sql(table: str, columns: tuple[str, ...], verb: str = "INSERT") -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f"{verb} INTO {table} ({names}) VALUES ({marks})"


#: JSON this long or longer is compressed (shorter text gains little and costs a call).
PACK_MIN_BYTES = 200


def pack(text: bytes) -> str | bytes:
    """JSON text as stored: compressed when long enough and smaller for it."""
    if len(text) >= PACK_MIN_BYTES:
        packed = zlib.compress(text)
        if len(packed) < len(text):
            return packed
    return text.decode()


def unpack(value: str | bytes) -> Any:
    """The JSON value `pack` stored."""
    return orjson.loads(zlib.decompress(value) if isinstance(value, bytes) else value)


@functools.lru_cache(maxsize=1024)
def _inflate_stack(packed: bytes) -> bytes:
    """A stored stack's JSON. The events of a page mostly share a few stacks (all of them, on a
    bug's page): each is inflated once, not once per event (3-10 us each)."""
    return zlib.decompress(packed)


def _encode(
    data: dict[str, Any], columns: tuple[str, ...], packed: frozenset[str] = frozenset()
) -> list[Any]:
    """Row values of `columns`; JSON of the `packed` ones compressed when long (`pack`)."""
    values: list[Any] = []
    for name in columns:
        value = data[name]
        if name in _JSON and value is not None:
            value = orjson.dumps(value)
            value = pack(value) if name in packed else value.decode()
        elif name in _TIMES:
            value = to_micros(value)
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return values


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in row.keys():  # noqa: SIM118 - sqlite3.Row is not iterable by key
        value = row[name]
        if name == "stack_trace" and isinstance(value, bytes):
            value = orjson.loads(_inflate_stack(value))
        elif name in _JSON and value is not None:
            value = unpack(value)
        elif name in _TIMES:
            value = from_micros(value)
        data[name] = value
    return data


def bug_values(bug: Bug) -> list[Any]:
    data = bug.model_dump(mode="json", by_alias=True)
    data.update({name: getattr(bug, name) for name in _TIMES & data.keys()})
    return _encode(data, BUG_COLUMNS)


def bug_from_row(row: sqlite3.Row) -> Bug:
    return Bug.model_validate(_decode(row))


def bug_fts_values(bug: Bug) -> list[str]:
    return [index_text(getattr(bug, name)) for name in BUG_FTS_COLUMNS]


def event_values(event: Event) -> list[Any]:
    """The values of EVENT_ROW_COLUMNS (the stack is stored apart)."""
    data = event.model_dump(mode="json", exclude={"stack_trace"})
    data["timestamp"] = event.timestamp
    return _encode(data, EVENT_ROW_COLUMNS, frozenset({"context"}))


def event_from_row(row: sqlite3.Row) -> Event:
    return Event.model_validate(_decode(row))


def event_fts_values(event: Event) -> list[str]:
    return [index_text(getattr(event, name)) for name in EVENT_FTS_COLUMNS]


def project_values(project: Project) -> list[Any]:
    data = project.model_dump()
    return _encode(data, PROJECT_COLUMNS)


def project_from_row(row: sqlite3.Row) -> Project:
    data = _decode(row)
    if data["auto_repair"] is not None:
        data["auto_repair"] = bool(data["auto_repair"])
    return Project.model_validate(data)


def report_body(report: RepairReportIn) -> str:
    return orjson.dumps(report.model_dump(mode="json")).decode()


def search_values(search: SavedSearch) -> tuple[object, ...]:
    """(name, created_at, updated_at, body) of a saved_searches row."""
    body = orjson.dumps(search.model_dump(mode="json", include=set(SavedSearchIn.model_fields)))
    return (
        search.name,
        to_micros(search.created_at),
        to_micros(search.updated_at),
        body.decode(),
    )


def search_from_row(row: sqlite3.Row) -> SavedSearch:
    return SavedSearch.model_validate(
        {
            **orjson.loads(row["body"]),
            "id": row["id"],
            "created_at": from_micros(row["created_at"]),
            "updated_at": from_micros(row["updated_at"]),
        }
    )


def report_from_row(row: sqlite3.Row) -> RepairReport:
    data = orjson.loads(row["body"])
    data.update(
        id=row["id"], project_id=row["project_id"], created_at=from_micros(row["created_at"])
    )
    return RepairReport.model_validate(data)
