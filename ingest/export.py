"""Exports: every hit of a bug or occurrence search, streamed as NDJSON or CSV.

The search is walked page by page along its cursor with nothing counted (`count=False`), and
rows are encoded a page at a time, so an export holds one page in memory whatever its size;
`export_max_rows` bounds one run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal

import orjson
from pydantic import BaseModel

from store.base import Store
from store.models import Bug, Event
from store.search import MAX_PAGE_SIZE, BugQuery, EventQuery

Format = Literal["ndjson", "csv"]
MEDIA_TYPES: dict[str, str] = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
#: Bug fields left out of exports (an opaque concurrency token).
_BUG_HIDDEN = frozenset({"revision"})
BUG_FIELDS = tuple(f for f in Bug.model_fields if f not in _BUG_HIDDEN)
EVENT_FIELDS = tuple(Event.model_fields)
#: Bytes gathered before a chunk is sent.
_CHUNK = 64 * 1024

Page = Callable[[str | None], tuple[Sequence[BaseModel], str | None]]


def walk(page: Page, limit: int) -> Iterator[BaseModel]:
    """Every item of the pages `page(cursor)` returns, at most `limit`. The first page is read
    at once, so a bad query fails before a response starts."""
    items, cursor = page(None)
    return _rest(page, items, cursor, limit)


def _rest(
    page: Page, items: Sequence[BaseModel], cursor: str | None, limit: int
) -> Iterator[BaseModel]:
    left = limit
    while True:
        yield from items[: max(left, 0)]
        left -= len(items)
        if cursor is None or left <= 0:
            return
        items, cursor = page(cursor)


def bugs(store: Store, query: BugQuery, limit: int) -> Iterator[BaseModel]:
    def page(cursor: str | None) -> tuple[Sequence[BaseModel], str | None]:
        found = store.search_bugs(
            query.model_copy(
                update={"cursor": cursor, "size": MAX_PAGE_SIZE, "count": False, "facets": ()}
            )
        )
        return found.items, found.next_cursor

    return walk(page, limit)


def events(store: Store, query: EventQuery, limit: int) -> Iterator[BaseModel]:
    def page(cursor: str | None) -> tuple[Sequence[BaseModel], str | None]:
        found = store.search_events(
            query.model_copy(update={"cursor": cursor, "size": MAX_PAGE_SIZE, "count": False})
        )
        return found.items, found.next_cursor

    return walk(page, limit)


def encode(rows: Iterable[BaseModel], fields: Sequence[str], fmt: Format) -> Iterator[bytes]:
    """`rows` as NDJSON lines, or CSV with a header (lists and objects as JSON in a cell), in
    chunks of about 64 KiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(fields)
    for row in rows:
        data = row.model_dump(mode="json", include=set(fields))
        if writer is None:
            buffer.write(orjson.dumps(data).decode())
            buffer.write("\n")
        else:
            writer.writerow([_cell(data.get(f)) for f in fields])
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value
