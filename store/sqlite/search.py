"""Bug and event search for the SQLite backend: query, filters, facets, paging, histogram.

Facets use multi-select semantics: a facet's counts apply the query and every filter except the
facet's own, so a UI can offer the other values of a field that is already filtered.

A search runs few statements over what its query matches: each full-text node is matched once
into a temporary id set; the total, the histogram and the facets of unfiltered fields come from
one pass (plus one per filtered facet field); a page selects its keys, then reads those rows.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from store import lucene as lq
from store.errors import QueryError
from store.models import Bug, Event
from store.search import (
    MAX_PAGE_SIZE,
    BugPage,
    BugQuery,
    EventPage,
    EventQuery,
    FacetValue,
    HistogramBucket,
    bucket_width,
    bug_sort,
    check_facets,
    check_paging,
    encode_cursor,
    merge_buckets,
)
from store.sqlite.query import (
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
from store.sqlite.rows import BUG_COLUMNS, EVENT_FIELDS_SQL, bug_from_row, event_from_row
from store.sqlite.schema import (
    BUG_FACETS_INDEX_COLUMNS,
    EVENT_TEXT_INDEX_COLUMNS,
    from_micros,
    to_micros,
)
from store.vocabulary import EVENT_FACET_FIELDS, FACET_FIELDS

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
    where the planner, which has no statistics, might pick one that reads every wide row."""

    table: Table
    base: _Condition
    filters: dict[str, _Condition]
    source: str
    #: What a page's keys are read from (see _page_source).
    page_source: str

    def where(self, *, without: str | None = None) -> _Condition:
        parts = [self.base, *(c for f, c in self.filters.items() if f != without)]
        return and_all(parts)


#: A full-text match set at least this large is read by scanning a covering index and probing
#: the set; smaller ones drive the statement (one row lookup per match).
_LARGE_MATCH = 2_000

#: The column each table's rows are fetched by once a page's keys are known.
_KEYS = {BUGS.name: "id", EVENTS.name: "seq"}
_BUG_FIELDS_SQL = ", ".join(f'"{c}"' for c in BUG_COLUMNS)


@contextmanager
def _compiled(
    conn: sqlite3.Connection,
    table: Table,
    node: lq.Node,
    filters: Mapping[str, Sequence[str]],
    reads: Sequence[str] = (),
    order: str | None = None,
) -> Iterator[_Request]:
    """Compile a search whose statements read the condition's columns and `reads`.

    Each full-text node is matched once into a temporary id set that every statement reuses
    (the MATCH is most of a statement's cost); the sets are dropped afterwards.
    """
    field_nodes = filter_nodes(filters, table)
    matches: dict[lq.Text, str] = {}
    try:
        sizes = []
        for text in _text_nodes(node):
            matches[text] = name = f"temp.search_match_{len(matches)}"
            conn.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)")
            cur = conn.execute(
                f"INSERT INTO {name} SELECT rowid FROM {table.fts} WHERE {table.fts} MATCH ?",
                [match_expression(text)],
            )
            sizes.append(cur.rowcount)
        columns = _fields(node, *field_nodes.values()) | set(reads)
        index = _covering_index(table, node, columns | ({table.rowid} if matches else set()), sizes)
        source = table.name if index is None else f"{table.name} INDEXED BY {index}"
        yield _Request(
            table,
            compile_node(node, table, matches),
            {f: compile_node(n, table, matches) for f, n in field_nodes.items()},
            source,
            _page_source(table, source, order, sizes),
        )
    finally:
        for name in matches.values():
            conn.execute(f"DROP TABLE IF EXISTS {name}")


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


def _conjuncts(node: lq.Node) -> list[lq.Node]:
    """The nodes that must all hold for `node` to hold (nested ANDs flattened)."""
    if isinstance(node, lq.And):
        return [c for child in node.children for c in _conjuncts(child)]
    return [node]


def _covering_index(
    table: Table, node: lq.Node, columns: set[str], sizes: Sequence[int]
) -> str | None:
    """The index to pin when it holds every column the statements read.

    Bugs: `bugs_facets`, unless a small full-text match set can drive the statement. Events:
    `events_text` when a full-text node must hold (it finds the events of the matching texts).
    """
    if table is BUGS:
        large = min(sizes, default=_LARGE_MATCH) >= _LARGE_MATCH
        return "bugs_facets" if large and columns <= BUG_FACETS_INDEX_COLUMNS else None
    required = any(isinstance(c, lq.Text) for c in _conjuncts(node))
    return "events_text" if required and columns <= EVENT_TEXT_INDEX_COLUMNS else None


def _page_source(table: Table, source: str, order: str | None, sizes: Sequence[int]) -> str:
    """What a page's keys are read from.

    Events: the counting source (with full text, the matching texts' events from their index;
    a time-ordered scan would read a wide row per candidate). Bugs with a large full-text match
    set: the sort column's index, walked in order until the page is full (the planner would
    look up every match and sort). Otherwise the planner's choice.
    """
    if table is EVENTS:
        return source
    if order is not None and min(sizes, default=0) >= _LARGE_MATCH:
        return f"bugs INDEXED BY bugs_{order}" if order != "id" else "bugs NOT INDEXED"
    return table.name


def search_bugs(conn: sqlite3.Connection, query: BugQuery) -> BugPage:
    order = _bug_order(query.sort)
    check_paging(query.page, query.size, MAX_PAGE_SIZE)
    check_facets(query.facets, FACET_FIELDS)
    node = lq.parse(query.q, lq.BUG_FIELDS)
    with _compiled(conn, BUGS, node, query.filters, query.facets, order.column) as request:
        total, facets = -1, dict[str, list[FacetValue]]()
        if query.count:
            total, facets, _ = _aggregate(conn, request, query.facets, query.facet_size, None)
        rows, next_cursor = _rows(
            conn, request, _BUG_FIELDS_SQL, order, query.page, query.size, query.cursor
        )
    items: list[Bug] = [bug_from_row(r) for r in rows]
    return BugPage(total=total, items=items, facets=facets, next_cursor=next_cursor)


def _bug_order(sort: str) -> _Order:
    column, descending = bug_sort(sort)
    return _Order(column, "id", descending)


def search_events(conn: sqlite3.Connection, query: EventQuery) -> EventPage:
    check_paging(query.page, query.size, MAX_PAGE_SIZE)
    check_facets(query.facets, EVENT_FACET_FIELDS)
    if query.interval_seconds is not None and query.interval_seconds <= 0:
        raise QueryError(f"interval_seconds: must be positive, not {query.interval_seconds}")
    node = lq.parse(query.q, lq.EVENT_FIELDS)
    if query.start is not None or query.end is not None:
        window = lq.Range("timestamp", query.start, query.end, True, False)
        node = lq.And((node, window))
    order = _Order("timestamp", "id", query.sort.startswith("-"))
    reads = ("timestamp", "id", *query.facets)
    width = query.interval_seconds
    if width is not None:
        width = bucket_width(width, query.start, query.end)
    with _compiled(conn, EVENTS, node, query.filters, reads) as request:
        total, facets, histogram = -1, dict[str, list[FacetValue]](), list[HistogramBucket]()
        if query.count:
            total, facets, histogram = _aggregate(
                conn, request, query.facets, query.facet_size, width, query.start
            )
            if width is not None:
                histogram, width = merge_buckets(histogram, width)
        if request.source != EVENTS.name and _dense(conn, total, query.page * query.size):
            request = replace(request, page_source=f"{EVENTS.name} INDEXED BY events_timestamp")
        rows, next_cursor = _rows(
            conn, request, EVENT_FIELDS_SQL, order, query.page, query.size, query.cursor
        )
    items: list[Event] = [event_from_row(r) for r in rows]
    return EventPage(
        total=total,
        items=items,
        facets=facets,
        histogram=histogram,
        interval_seconds=width if query.count else None,
        next_cursor=next_cursor,
    )


def _dense(conn: sqlite3.Connection, hits: int, needed: int) -> bool:
    """Whether a page of full-text hits is cheaper found by walking all events in time order,
    testing each (about `needed` * events / hits wide rows read, each costing some dozen index
    entries), than by ordering the hits from the text index (`hits` entries)."""
    if hits <= 0:  # none, or not counted
        return False
    events = int(conn.execute(f"SELECT max(seq) FROM {EVENTS.name}").fetchone()[0] or 0)
    return (needed + 1) * events * 12 < hits * hits


def bug_events(
    conn: sqlite3.Connection, bug_id: int, page: int, size: int, cursor: str | None
) -> EventPage:
    """One bug's events, newest first."""
    check_paging(page, size, MAX_PAGE_SIZE)
    order = _Order("timestamp", "id", True)
    with _compiled(conn, EVENTS, lq.Term("bug_id", bug_id), {}) as request:
        total, _, _ = _aggregate(conn, request, (), 0, None)
        rows, next_cursor = _rows(conn, request, EVENT_FIELDS_SQL, order, page, size, cursor)
    items: list[Event] = [event_from_row(r) for r in rows]
    return EventPage(total=total, items=items, next_cursor=next_cursor)


def _rows(
    conn: sqlite3.Connection,
    request: _Request,
    fields: str,
    order: _Order,
    page: int,
    size: int,
    cursor: str | None,
) -> tuple[list[sqlite3.Row], str | None]:
    """One page of rows (`fields`: the select list) by cursor when given, else by page number,
    and the next cursor."""
    parts = [request.where()]
    offset = (page - 1) * size
    if cursor is not None:
        parts.append(keyset(f'"{order.column}"', f'"{order.tiebreak}"', order.desc, cursor))
        offset = 0
    where, params = and_all(parts)
    # The page's keys first, from what the query reads, then only those wide rows.
    key = _KEYS[request.table.name]
    sql = (
        f"SELECT {fields} FROM {request.table.name} WHERE {key} IN "
        f"(SELECT {key} FROM {request.page_source} WHERE {where} "
        f"ORDER BY {order.sql()} LIMIT ? OFFSET ?) "
        f"ORDER BY {order.sql()}"
    )
    rows = conn.execute(sql, [*params, size + 1, offset]).fetchall()
    if size == 0 or len(rows) <= size:
        return rows[:size], None
    last = rows[size - 1]
    return rows[:size], encode_cursor([last[order.column], last[order.tiebreak]])


def _aggregate(
    conn: sqlite3.Connection,
    request: _Request,
    fields: Sequence[str],
    size: int,
    interval_seconds: int | None,
    start: datetime | None = None,
) -> tuple[int, dict[str, list[FacetValue]], list[HistogramBucket]]:
    """The total, the top `size` values of each facet field and the histogram.

    One pass over the hits yields the total, the histogram and the facets of unfiltered fields;
    a filtered field's facet takes a pass without its own filter. Each pass returns the values
    as JSON arrays counted here: SQLite groups by sorting, which cost several times the pass.
    A few unfiltered fields travel as one array of their value tuples (far fewer distinct
    values to count), and buckets as numbers from the first one a window can hold.
    """
    shared = [f for f in dict.fromkeys(fields) if f not in request.filters]
    groups = [shared] if 1 < len(shared) <= _TUPLE_FIELDS else [[f] for f in shared]
    exprs: list[tuple[str, Params]] = [(_values_sql(group), []) for group in groups]
    if interval_seconds is not None:
        width = interval_seconds * 1_000_000
        base = 0 if start is None else to_micros(start) // width * width
        exprs.append(('("timestamp" - ?) / ?', [base, width]))
    columns = _value_arrays(conn, request, request.where(), exprs)
    total = len(columns[0]) if exprs else int(columns[0][0])
    counts: dict[str, Counter[Any]] = {}
    for group, column in zip(groups, columns, strict=False):
        counts.update(_field_counts(group, Counter(column)))
    for field in fields:
        if field in request.filters:
            condition = request.where(without=field)
            (values,) = _value_arrays(conn, request, condition, [(_values_sql([field]), [])])
            counts[field] = Counter(values)
    histogram = []
    if interval_seconds is not None:
        buckets = sorted(Counter(columns[-1]).items())
        histogram = [
            HistogramBucket(key=from_micros(base + k * width), count=n) for k, n in buckets
        ]
    return total, {f: _top(counts[f], size) for f in fields}, histogram


#: At most this many facet fields travel as one array of tuples; with more, nearly every tuple
#: is distinct and counting them saves nothing.
_TUPLE_FIELDS = 3


def _values_sql(fields: Sequence[str]) -> str:
    """The value of one field, or the JSON text of several fields' value tuple (`|| ''` makes
    it a string in the array, so that equal tuples count as one)."""
    if len(fields) == 1:
        return f'"{fields[0]}"'
    return "json_array(" + ", ".join(f'"{f}"' for f in fields) + ") || ''"


def _field_counts(fields: Sequence[str], counts: Counter[Any]) -> dict[str, Counter[Any]]:
    """Per-field value counts from counts of one field's values or of value tuples (JSON)."""
    if len(fields) == 1:
        return {fields[0]: counts}
    out: dict[str, Counter[Any]] = {f: Counter() for f in fields}
    for values, n in counts.items():
        for field, value in zip(fields, orjson.loads(values), strict=True):
            out[field][value] += n
    return out


def _value_arrays(
    conn: sqlite3.Connection,
    request: _Request,
    condition: _Condition,
    exprs: Sequence[tuple[str, Params]],
) -> list[list[Any]]:
    """Each expression's value in every row matching `condition`; [[count]] for no expression."""
    where, params = condition
    if not exprs:
        sql = f"SELECT count(*) FROM {request.source} WHERE {where}"
        return [[conn.execute(sql, params).fetchone()[0]]]
    selected = ", ".join(f"json_group_array({e})" for e, _ in exprs)
    values = [p for _, ps in exprs for p in ps]
    row = conn.execute(
        f"SELECT {selected} FROM {request.source} WHERE {where}", [*values, *params]
    ).fetchone()
    return [orjson.loads(text) for text in row]


def _top(counts: Counter[Any], size: int) -> list[FacetValue]:
    """The `size` most frequent values, count desc then value asc; empty values not counted."""
    counts.pop(None, None)
    counts.pop("", None)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return [FacetValue(value=str(v), count=n) for v, n in ranked[: max(size, 0)]]
