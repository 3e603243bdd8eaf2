"""Bug and event search for the SQLite backend: query, filters, facets, paging, histogram.

Facets use multi-select semantics: a facet's counts apply the query and every filter except the
facet's own, so a UI can offer the other values of a field that is already filtered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    match_expression,
)
from store.sqlite_rows import BUG_COLUMNS, EVENT_COLUMNS, bug_from_row, event_from_row
from store.sqlite_schema import (
    BUG_FACETS_INDEX_COLUMNS,
    EVENT_TEXT_INDEX_COLUMNS,
    from_micros,
)

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
    """A compiled search: the query condition and one condition per filtered field.

    `source` is what the statements read: the table, or the table pinned to a covering index
    when the planner would otherwise pick an index that makes it read every wide row."""

    table: Table
    base: _Condition
    filters: dict[str, _Condition]
    source: str
    #: True when `source` is a temporary table of the hits (see _materialize).
    materialized: bool = False

    @property
    def page_source(self) -> str:
        """What a page's keys are read from: the hits, else the table (the planner picks the
        index that yields rows in page order)."""
        return self.source if self.materialized else self.table.name

    def where(self, *, without: str | None = None) -> _Condition:
        parts = [self.base, *(c for f, c in self.filters.items() if f != without)]
        return and_all(parts)


#: A full-text match set at least this large is read by scanning a covering index and probing
#: the set; smaller ones drive the statement (one row lookup per match).
_LARGE_MATCH = 2_000

#: The column each table's rows are fetched by once a page's keys are known.
_KEYS = {BUGS.name: "id", EVENTS.name: "seq"}


@contextmanager
def _compiled(
    conn: sqlite3.Connection,
    table: Table,
    node: lq.Node,
    filters: Mapping[str, Sequence[str]],
    *,
    reads: Sequence[str] = (),
    materialize: bool = False,
) -> Iterator[_Request]:
    """Compile a search whose statements read the condition's columns and `reads`.

    Each full-text node is evaluated once into a temporary id set that every statement (count,
    page, facets, histogram) reuses. With `materialize`, a search with full text also collects
    its hits once (the columns the statements read) so that each statement scans only those.
    Temporary tables are dropped afterwards.
    """
    field_nodes = filter_nodes(filters, table)
    temps: list[str] = []
    try:
        matches: dict[lq.Text, str] = {}
        sizes: list[int] = []
        for text in _text_nodes(node):
            matches[text] = _temp(conn, temps, "id INTEGER PRIMARY KEY")
            cur = conn.execute(
                f"INSERT INTO {matches[text]} SELECT rowid FROM {table.fts} "
                f"WHERE {table.fts} MATCH ?",
                [match_expression(text)],
            )
            sizes.append(cur.rowcount)
        filtered = _fields(*field_nodes.values())
        columns = _fields(node) | filtered | set(reads) | ({table.rowid} if matches else set())
        index = _covering_index(table, node, columns, sizes)
        request = _Request(
            table,
            compile_node(node, table, matches),
            {f: compile_node(n, table, matches) for f, n in field_nodes.items()},
            table.name if index is None else f"{table.name} INDEXED BY {index}",
        )
        if materialize and matches:
            request = _materialize(conn, request, [*filtered, *reads], temps)
        yield request
    finally:
        for name in temps:
            conn.execute(f"DROP TABLE IF EXISTS {name}")


def _temp(conn: sqlite3.Connection, temps: list[str], definition: str) -> str:
    name = f"temp.search_{len(temps)}"
    conn.execute(f"CREATE TABLE {name} ({definition})")
    temps.append(name)
    return name


def _materialize(
    conn: sqlite3.Connection, request: _Request, columns: Sequence[str], temps: list[str]
) -> _Request:
    """The request over a temporary table of its hits: the key and `columns` of each row
    matching the query (filters still apply per statement, as facets leave their own out)."""
    names = ", ".join(f'"{c}"' for c in dict.fromkeys([_KEYS[request.table.name], *columns]))
    hits = _temp(conn, temps, names)
    where, params = request.base
    conn.execute(f"INSERT INTO {hits} SELECT {names} FROM {request.source} WHERE {where}", params)
    return _Request(request.table, ("1", []), request.filters, hits, materialized=True)


def _text_nodes(node: lq.Node) -> list[lq.Text]:
    """The distinct full-text nodes of a tree, in order."""
    if isinstance(node, lq.Text):
        return [node]
    if isinstance(node, lq.And | lq.Or):
        return list(dict.fromkeys(t for child in node.children for t in _text_nodes(child)))
    if isinstance(node, lq.Not):
        return _text_nodes(node.child)
    return []


def _fields(*nodes: lq.Node) -> set[str]:
    """The columns a condition reads (besides the rowids full-text nodes read)."""
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, lq.And | lq.Or):
            out |= _fields(*node.children)
        elif isinstance(node, lq.Not):
            out |= _fields(node.child)
        elif isinstance(node, lq.Term | lq.Prefix | lq.Range | lq.Exists):
            out.add(node.field)
    return out


def _covering_index(
    table: Table, node: lq.Node, columns: set[str], sizes: Sequence[int]
) -> str | None:
    """The index to pin when it holds every column the statements read and the planner,
    which has no statistics, might pick one that reads the wide rows instead.

    Bugs: `bugs_facets` unless a small full-text match set can drive the statement. Events: the
    text index when a full-text node must hold (it finds the events of the matching texts).
    """
    if table is BUGS:
        covered = columns <= BUG_FACETS_INDEX_COLUMNS
        return (
            "bugs_facets" if covered and min(sizes, default=_LARGE_MATCH) >= _LARGE_MATCH else None
        )
    conjuncts = node.children if isinstance(node, lq.And) else (node,)
    required = any(isinstance(child, lq.Text) for child in conjuncts)
    return "events_text" if required and columns <= EVENT_TEXT_INDEX_COLUMNS else None


def search_bugs(conn: sqlite3.Connection, query: BugQuery) -> BugPage:
    order = _bug_order(query.sort)
    check_paging(query.page, query.size, MAX_PAGE_SIZE)
    check_facets(query.facets, FACET_FIELDS)
    node = lq.parse(query.q, lq.BUG_FIELDS)
    reads = (order.column, order.tiebreak, *query.facets)
    with _compiled(
        conn, BUGS, node, query.filters, reads=reads, materialize=bool(query.facets)
    ) as request:
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
    order = _Order("timestamp", "id", query.sort.startswith("-"))
    # A full-text search's hits are collected once when several statements read them.
    several = bool(query.facets) or query.interval_seconds is not None
    reads = ("timestamp", "id", *query.facets)
    with _compiled(conn, EVENTS, node, query.filters, reads=reads, materialize=several) as request:
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
    with _compiled(conn, EVENTS, lq.Term("bug_id", bug_id), {}) as request:
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
        conn.execute(f"SELECT count(*) FROM {request.source} WHERE {where}", params).fetchone()[0]
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
    # The page's keys first, from what the query reads, then only those wide rows.
    key = _KEYS[request.table.name]
    sql = (
        f"SELECT {names} FROM {request.table.name} WHERE {key} IN "
        f"(SELECT {key} FROM {request.page_source} WHERE {where} "
        f"ORDER BY {order.sql()} LIMIT ? OFFSET ?) "
        f"ORDER BY {order.sql()}"
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
            f'SELECT "{field}" AS value, count(*) AS n FROM {request.source} '
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
        f'SELECT ("timestamp" / ?) * ? AS k, count(*) AS n FROM {request.source} '
        f"WHERE {where} GROUP BY k ORDER BY k"
    )
    rows = conn.execute(sql, [width, width, *params]).fetchall()
    return [HistogramBucket(key=from_micros(r["k"]), count=r["n"]) for r in rows]
