"""Compile the backend-neutral query tree (store.lucene) to parameterized SQLite SQL.

Values always travel as parameters; only column and table names, which come from the fixed field
tables, are written into the SQL text. Full-text nodes become FTS5 MATCH sub-selects over token
strings produced by store.text, so SQLite matches exactly what the Elasticsearch backend matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store import lucene as lq
from store.errors import QueryError
from store.lucene import FULLTEXT_FIELDS, UPPERCASE_FIELDS, FieldType
from store.search import cursor_values
from store.sqlite.schema import to_micros

Params = list[Any]


@dataclass(frozen=True)
class Table:
    """What the compiler needs to know about one searchable table."""

    name: str
    fts: str
    #: The column that holds the FTS rowid.
    rowid: str
    fields: Mapping[str, FieldType]
    #: Columns stored as JSON lists (empty list = field absent).
    json_lists: frozenset[str] = frozenset()
    #: Fields stored in a table of their own: the column that points there (NULL = absent).
    references: Mapping[str, str] = field(default_factory=dict)


BUGS = Table("bugs", "bugs_fts", "id", lq.BUG_FIELDS, frozenset({"stack_trace"}))
#: Events are full-text indexed once per distinct text (store/sqlite_event_text.py).
#: Their stack traces are `stacks` rows (store/sqlite/stack.py).
EVENTS = Table(
    "events", "event_texts_fts", "text_id", lq.EVENT_FIELDS, references={"stack_trace": "stack_id"}
)

#: Keyword fields whose stored values are upper-case (as store.lucene normalizes them).


def compile_node(
    node: lq.Node, table: Table, matches: Mapping[lq.Text, str] | None = None
) -> tuple[str, Params]:
    """SQL boolean expression (over `table`'s columns) matching `node`, and its parameters.

    `matches` names, per full-text node, a table of the FTS rowids it matches, evaluated
    beforehand; other full-text nodes become MATCH sub-selects.
    """
    params: Params = []
    return _compile(node, table, params, matches or {}), params


def _compile(node: lq.Node, table: Table, params: Params, matches: Mapping[lq.Text, str]) -> str:
    if isinstance(node, lq.MatchAll):
        return "1"
    if isinstance(node, lq.And | lq.Or):
        joiner = " AND " if isinstance(node, lq.And) else " OR "
        parts = [_compile(child, table, params, matches) for child in node.children]
        return "(" + joiner.join(parts) + ")" if parts else "1"
    if isinstance(node, lq.Not):
        # NULL (a comparison on a missing value) counts as "no match", so NOT must see 0.
        return f"NOT coalesce({_compile(node.child, table, params, matches)}, 0)"
    if isinstance(node, lq.Text):
        if node in matches:
            return f'"{table.rowid}" IN {matches[node]}'
        params.append(match_expression(node))
        return f'"{table.rowid}" IN (SELECT rowid FROM {table.fts} WHERE {table.fts} MATCH ?)'
    return _compile_leaf(node, table, params)


def _compile_leaf(
    node: lq.Term | lq.Prefix | lq.Range | lq.Exists, table: Table, params: Params
) -> str:
    column = _column(node.field, table)
    if isinstance(node, lq.Exists):
        return _exists(node.field, table)
    if isinstance(node, lq.Term):
        params.append(_sql_value(node.value))
        return f"{column} = ?"
    if isinstance(node, lq.Prefix):
        return _prefix(node, table, params)
    clauses = []
    if node.low is not None:
        params.append(_sql_value(node.low))
        clauses.append(f"{column} {'>=' if node.include_low else '>'} ?")
    if node.high is not None:
        params.append(_sql_value(node.high))
        clauses.append(f"{column} {'<=' if node.include_high else '<'} ?")
    return "(" + " AND ".join(clauses) + ")" if clauses else f"{column} IS NOT NULL"


def _column(field: str, table: Table) -> str:
    if field not in table.fields:
        raise QueryError(f"unknown field '{field}'")
    return f'"{field}"'


def _exists(field: str, table: Table) -> str:
    column = _column(field, table)
    if field in table.references:
        return f'"{table.references[field]}" IS NOT NULL'
    if table.fields[field] in ("int", "date"):
        return f"{column} IS NOT NULL"
    empty = "'[]'" if field in table.json_lists else "''"
    return f"({column} IS NOT NULL AND {column} != {empty})"


def _prefix(node: lq.Prefix, table: Table, params: Params) -> str:
    """Case-sensitive prefix match as an index-friendly range: value <= column < successor."""
    if not node.value:
        return _exists(node.field, table)
    column = _column(node.field, table)
    successor = _successor(node.value)
    if successor is None:
        params.extend([len(node.value), node.value])
        return f"substr({column}, 1, ?) = ?"
    params.extend([node.value, successor])
    return f"({column} >= ? AND {column} < ?)"


def _successor(value: str) -> str | None:
    """The smallest string greater than every string starting with `value` (None if none)."""
    code = ord(value[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:
        code = 0xE000
    if code > 0x10FFFF:
        return None
    return value[:-1] + chr(code)


def match_expression(node: lq.Text) -> str:
    """An FTS5 query: the tokens as one phrase in the node's columns, `*` for a prefix."""
    columns = FULLTEXT_FIELDS if node.field is None else (node.field,)
    # Tokens are \w runs (store.text), so they never contain a double quote.
    phrase = '"' + " ".join(node.tokens) + '"' + ("*" if node.prefix else "")
    return "{" + " ".join(columns) + "} : " + phrase


def _sql_value(value: lq.Value) -> int | str:
    return to_micros(value) if isinstance(value, datetime) else value


# -- filters, sorting and cursors -------------------------------------------------------------


def filter_nodes(filters: Mapping[str, Sequence[str]], table: Table) -> dict[str, lq.Node]:
    """One node per filtered field: its values OR-ed. Fields without values are ignored."""
    nodes: dict[str, lq.Node] = {}
    for raw_field, values in filters.items():
        field = lq.ALIASES.get(raw_field, raw_field)
        kind = table.fields.get(field)
        if kind not in ("keyword", "int"):
            known = ", ".join(sorted(f for f, k in table.fields.items() if k in ("keyword", "int")))
            raise QueryError(f"filters: cannot filter on '{raw_field}' (filterable: {known})")
        if values:
            terms = tuple(lq.Term(field, _filter_value(field, kind, v)) for v in values)
            nodes[field] = lq.Or(terms)
    return nodes


def _filter_value(field: str, kind: FieldType, value: Any) -> str | int:
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise QueryError(f"filters: '{field}' takes whole numbers, not {value!r}") from None
    text = str(value)
    return text.upper() if field in UPPERCASE_FIELDS else text


def keyset(column: str, tiebreak: str, desc: bool, cursor: str) -> tuple[str, Params]:
    """The WHERE clause for rows after the cursor [sort value, tiebreak value] in sort order."""
    values = cursor_values(cursor)
    op = "<" if desc else ">"
    return f"({column}, {tiebreak}) {op} (?, ?)", list(values)


def and_all(parts: Sequence[tuple[str, Params]]) -> tuple[str, Params]:
    """Join (sql, params) conditions with AND."""
    params: Params = []
    for _, p in parts:
        params.extend(p)
    sql = " AND ".join(f"({s})" for s, _ in parts) if parts else "1"
    return sql, params
