"""Bug and event search for the SQLite backend: query, filters, facets, paging, histogram.

Facets use multi-select semantics: a facet's counts apply the query and every filter except the
facet's own, so a UI can offer the other values of a field that is already filtered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from store import query as lq
from store.errors import QueryError
from store.models import Bug, Event
from store.search import (
    BUG_SORTS,
    EVENT_FACET_FIELDS,
    FACET_FIELDS,
    MAX_PAGE_SIZE,
    BugPage,
    BugQuery,
    EventPage,
    EventQuery,
    FacetValue,
    HistogramBucket,
    check_facets,
    check_paging,
    encode_cursor,
)
from store.sqlite_query import (
    BUGS,
    EVENTS,
    Params,
    Table,
    and_all,
    compile_node,
    filter_nodes,
    keyset,
)
from store.sqlite_rows import BUG_COLUMNS, EVENT_COLUMNS, bug_from_row, event_from_row
from store.sqlite_schema import from_micros

_Condition = tuple[str, Params]


@dataclass(frozen=True)
class _Order:
    column: str
    tiebreak: str
    desc: bool

    def sql(self) -> str:
        direction = "DESC" if self.desc else "ASC"
        return f'"{self.column}" {direction}, "{self.tiebreak}" {direction}'


@dataclass(frozen=True)
class _Request:
    """A compiled search: the query condition and one condition per filtered field."""

    table: Table
    base: _Condition
    filters: dict[str, _Condition]

    def where(self, *, without: str | None = None) -> _Condition:
        parts = [self.base, *(c for f, c in self.filters.items() if f != without)]
        return and_all(parts)


def _compile_request(table: Table, node: lq.Node, filters: Mapping[str, Sequence[str]]) -> _Request:
    conditions = {f: compile_node(n, table) for f, n in filter_nodes(filters, table).items()}
    return _Request(table, compile_node(node, table), conditions)


def search_bugs(conn: sqlite3.Connection, query: BugQuery) -> BugPage:
    order = _bug_order(query.sort)
    check_paging(query.page, query.size, MAX_PAGE_SIZE)
    check_facets(query.facets, FACET_FIELDS)
    request = _compile_request(BUGS, lq.parse(query.q, lq.BUG_FIELDS), query.filters)
    total = _count(conn, request)
    rows, next_cursor = _rows(
        conn, request, BUG_COLUMNS, order, query.page, query.size, query.cursor
    )
    items: list[Bug] = [bug_from_row(r) for r in rows]
    facets = _facets(conn, request, query.facets, query.facet_size)
    return BugPage(total=total, items=items, facets=facets, next_cursor=next_cursor)


def _bug_order(sort: str) -> _Order:
    column = sort.removeprefix("-")
    if column not in BUG_SORTS:
        raise QueryError(f"sort: unknown sort '{sort}' (use {', '.join(BUG_SORTS)}, '-' = desc)")
    return _Order(column, "id", sort.startswith("-"))


def search_events(conn: sqlite3.Connection, query: EventQuery) -> EventPage:
    check_paging(query.page, query.size, MAX_PAGE_SIZE)
    check_facets(query.facets, EVENT_FACET_FIELDS)
    node = lq.parse(query.q, lq.EVENT_FIELDS)
    if query.start is not None or query.end is not None:
        window = lq.Range("timestamp", query.start, query.end, True, False)
        node = lq.And((node, window))
    request = _compile_request(EVENTS, node, query.filters)
    order = _Order("timestamp", "id", query.sort.startswith("-"))
    page = event_page(conn, request, order, query.page, query.size, query.cursor)
    page.facets = _facets(conn, request, query.facets, query.facet_size)
    if query.interval_seconds is not None:
        page.histogram = _histogram(conn, request, query.interval_seconds)
    return page


def bug_events(
    conn: sqlite3.Connection, bug_id: int, page: int, size: int, cursor: str | None
) -> EventPage:
    """One bug's events, newest first."""
    check_paging(page, size, MAX_PAGE_SIZE)
    request = _compile_request(EVENTS, lq.Term("bug_id", bug_id), {})
    return event_page(conn, request, _Order("timestamp", "id", True), page, size, cursor)


def event_page(
    conn: sqlite3.Connection,
    request: _Request,
    order: _Order,
    page: int,
    size: int,
    cursor: str | None,
) -> EventPage:
    total = _count(conn, request)
    rows, next_cursor = _rows(conn, request, EVENT_COLUMNS, order, page, size, cursor)
    items: list[Event] = [event_from_row(r) for r in rows]
    return EventPage(total=total, items=items, next_cursor=next_cursor)


def _count(conn: sqlite3.Connection, request: _Request) -> int:
    where, params = request.where()
    return int(
        conn.execute(f"SELECT count(*) FROM {request.table.name} WHERE {where}", params).fetchone()[
            0
        ]
    )


def _rows(
    conn: sqlite3.Connection,
    request: _Request,
    columns: Sequence[str],
    order: _Order,
    page: int,
    size: int,
    cursor: str | None,
) -> tuple[list[sqlite3.Row], str | None]:
    """One page of rows (by cursor when given, else by page number) and the next cursor."""
    parts = [request.where()]
    offset = (page - 1) * size
    if cursor is not None:
        parts.append(keyset(f'"{order.column}"', f'"{order.tiebreak}"', order.desc, cursor))
        offset = 0
    where, params = and_all(parts)
    names = ", ".join(f'"{c}"' for c in columns)
    sql = (
        f"SELECT {names} FROM {request.table.name} WHERE {where} "
        f"ORDER BY {order.sql()} LIMIT ? OFFSET ?"
    )
    rows = conn.execute(sql, [*params, size + 1, offset]).fetchall()
    if size == 0 or len(rows) <= size:
        return rows[:size], None
    last = rows[size - 1]
    return rows[:size], encode_cursor([last[order.column], last[order.tiebreak]])


def _facets(
    conn: sqlite3.Connection, request: _Request, fields: Sequence[str], size: int
) -> dict[str, list[FacetValue]]:
    """Top `size` values per field, count desc then value asc; empty values are not counted."""
    out: dict[str, list[FacetValue]] = {}
    for field in fields:
        where, params = request.where(without=field)
        sql = (
            f'SELECT "{field}" AS value, count(*) AS n FROM {request.table.name} '
            f'WHERE {where} AND "{field}" IS NOT NULL AND "{field}" != \'\' '
            f'GROUP BY "{field}" ORDER BY n DESC, "{field}" ASC LIMIT ?'
        )
        rows = conn.execute(sql, [*params, max(size, 0)]).fetchall()
        out[field] = [FacetValue(value=str(r["value"]), count=r["n"]) for r in rows]
    return out


def _histogram(
    conn: sqlite3.Connection, request: _Request, interval_seconds: int
) -> list[HistogramBucket]:
    """Non-empty buckets aligned to multiples of the interval since the epoch, oldest first."""
    if interval_seconds <= 0:
        raise QueryError(f"interval_seconds: must be positive, not {interval_seconds}")
    width = interval_seconds * 1_000_000
    where, params = request.where()
    sql = (
        f'SELECT ("timestamp" / ?) * ? AS k, count(*) AS n FROM {request.table.name} '
        f"WHERE {where} GROUP BY k ORDER BY k"
    )
    rows = conn.execute(sql, [width, width, *params]).fetchall()
    return [HistogramBucket(key=from_micros(r["k"]), count=r["n"]) for r in rows]
