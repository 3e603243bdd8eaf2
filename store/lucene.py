"""Lucene query strings -> a small backend-neutral tree.

The string is parsed once with luqum and translated into the nodes below; each backend compiles
the same tree (SQL for SQLite, query DSL for Elasticsearch), so both answer a query alike.

Semantics:
- `field:value` on a keyword field is an exact match; `field:pre*` a prefix match.
- on a text field (message, stack_trace, failure_reason) the value is tokenized
  (see store.text) and matched as a phrase; a trailing `*` makes the last token a prefix.
- bare words and quoted phrases search all text fields of the record kind.
- numbers and dates take `[a TO b]` / `{a TO b}` ranges with `*` for an open end; dates accept
  ISO 8601 and `now`, `now-15m`, `now-24h`, `now-7d`.
- the implicit operator between clauses is AND; NOT, `-` and parentheses work as in Lucene.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from luqum import tree as lt
from luqum.exceptions import ParseError
from luqum.parser import parser
from luqum.utils import UnknownOperationResolver

from store.errors import QueryError
from store.text import tokenize

FieldType = Literal["keyword", "text", "int", "date"]
Value = str | int | datetime

_COMMON: dict[str, FieldType] = {
    "fingerprint": "keyword",
    "project_id": "keyword",
    "source": "keyword",
    "environment": "keyword",
    "level": "keyword",
    "error_type": "keyword",
    "file_path": "keyword",
    "version": "keyword",
    "commit_hash": "keyword",
    "message": "text",
    "stack_trace": "text",
    "line_number": "int",
}

BUG_FIELDS: dict[str, FieldType] = {
    **_COMMON,
    "id": "int",
    "status": "keyword",
    "failure_reason": "text",
    "count": "int",
    "regression_count": "int",
    "first_seen": "date",
    "last_seen": "date",
    "created_at": "date",
    "updated_at": "date",
}

EVENT_FIELDS: dict[str, FieldType] = {
    **_COMMON,
    "bug_id": "int",
    "timestamp": "date",
}

#: Fields searched by bare words: the text fields plus tokenized error_type and file_path.
FULLTEXT_FIELDS = ("message", "error_type", "file_path", "stack_trace")

#: Alternative names accepted in queries (ECS names used in Kibana).
ALIASES = {
    "@timestamp": "timestamp",
    "error.type": "error_type",
    "error.message": "message",
    "error.stack_trace": "stack_trace",
    "stack": "stack_trace",
    "log.level": "level",
    "service.name": "project_id",
    "service.environment": "environment",
    "service.version": "version",
    "type": "error_type",
    "project": "project_id",
}

#: Keyword fields whose values are stored upper-case; queries are normalized to match.
UPPERCASE_FIELDS = frozenset({"level", "status"})


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class Text:
    """Phrase match of `tokens` in `field` (None = every field in FULLTEXT_FIELDS).

    With `prefix`, the last token matches any token starting with it.
    """

    field: str | None
    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Term:
    field: str
    value: Value


@dataclass(frozen=True)
class Prefix:
    field: str
    value: str


@dataclass(frozen=True)
class Range:
    field: str
    low: Value | None
    high: Value | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True)
class Exists:
    field: str


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = MatchAll | Text | Term | Prefix | Range | Exists | And | Or | Not

_resolver = UnknownOperationResolver(resolve_to=lt.AndOperation)


def parse(q: str | None, fields: dict[str, FieldType]) -> Node:
    """Parse a Lucene query string into a Node; raise QueryError naming the problem."""
    if q is None or not q.strip() or q.strip() == "*":
        return MatchAll()
    try:
        tree = parser.parse(q)
    except (ParseError, ValueError, TypeError) as exc:
        raise QueryError(f"q: syntax error: {_parse_message(exc)}") from exc
    tree = _resolver(tree)
    return _Translator(fields).visit(tree, None)


def _parse_message(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.replace("\n", " ")[:200]


class _Translator:
    def __init__(self, fields: dict[str, FieldType]) -> None:
        self.fields = fields

    def visit(self, node: lt.Item, field: str | None) -> Node:
        if isinstance(node, lt.SearchField):
            if field is not None:
                raise QueryError(f"q: nested field '{node.name}' inside '{field}'")
            return self.visit(node.expr, self._field(node.name))
        if isinstance(node, (lt.Group, lt.FieldGroup)):
            return self.visit(node.expr, field)
        if isinstance(node, lt.AndOperation):
            return And(tuple(self.visit(c, field) for c in node.children))
        if isinstance(node, lt.OrOperation):
            return Or(tuple(self.visit(c, field) for c in node.children))
        if isinstance(node, (lt.Not, lt.Prohibit)):
            return Not(self.visit(node.a, field))
        if isinstance(node, lt.Plus):
            return self.visit(node.a, field)
        if isinstance(node, lt.Boost):
            return self.visit(node.expr, field)
        if isinstance(node, lt.Phrase):
            return self._value(field, node.value[1:-1], phrase=True)
        if isinstance(node, lt.Word):
            return self._value(field, node.value, phrase=False)
        if isinstance(node, lt.Range):
            return self._range(field, node)
        if isinstance(node, (lt.Fuzzy, lt.Proximity)):
            raise QueryError(f"q: fuzzy and proximity searches are not supported ('{node}')")
        if isinstance(node, lt.Regex):
            raise QueryError(f"q: regular expressions are not supported ('{node}')")
        raise QueryError(f"q: unsupported query element '{node}'")

    def _field(self, name: str) -> str:
        name = ALIASES.get(name, name)
        if name not in self.fields:
            known = ", ".join(sorted(self.fields))
            raise QueryError(f"q: unknown field '{name}' (known fields: {known})")
        return name

    def _value(self, field: str | None, raw: str, *, phrase: bool) -> Node:
        value = _unescape(raw)
        if field is None or self.fields[field] == "text":
            return _text(field, value, phrase=phrase)
        kind = self.fields[field]
        wildcard = not phrase and value.endswith("*") and not raw.endswith("\\*")
        if not phrase and value == "*":
            return Exists(field)
        if not phrase and ("?" in value or "*" in value.rstrip("*")):
            raise QueryError(f"q: only a trailing '*' wildcard is supported ('{field}:{raw}')")
        if kind == "keyword":
            value = value.upper() if field in UPPERCASE_FIELDS else value
            if wildcard:
                return Prefix(field, value.rstrip("*"))
            return Term(field, value)
        if wildcard:
            raise QueryError(f"q: wildcards need a text or keyword field, not '{field}'")
        if kind == "int":
            return Term(field, _int(field, value))
        low = _date(field, value)
        if _is_day(value):
            return Range(field, low, low + timedelta(days=1), True, False)
        return Term(field, low)

    def _range(self, field: str | None, node: lt.Range) -> Node:
        if field is None:
            raise QueryError("q: a range needs a field, e.g. line_number:[1 TO 10]")
        kind = self.fields[field]
        if kind == "text":
            raise QueryError(f"q: ranges are not supported on text field '{field}'")
        low = self._bound(field, kind, str(node.low))
        high = self._bound(field, kind, str(node.high))
        include_low, include_high = bool(node.include_low), bool(node.include_high)
        # A bare date stands for the whole day: `[2026-03-02 TO 2026-03-04]` ends at the end of
        # the 4th, `{2026-03-02 TO ...` starts after the 2nd.
        if include_high and isinstance(high, datetime) and _is_day(str(node.high)):
            high, include_high = high + timedelta(days=1), False
        if not include_low and isinstance(low, datetime) and _is_day(str(node.low)):
            low, include_low = low + timedelta(days=1), True
        return Range(field, low, high, include_low, include_high)

    def _bound(self, field: str, kind: FieldType, raw: str) -> Value | None:
        raw = _unescape(raw.strip('"'))
        if raw == "*":
            return None
        if kind == "int":
            return _int(field, raw)
        if kind == "date":
            return _date(field, raw)
        return raw.upper() if field in UPPERCASE_FIELDS else raw


def _text(field: str | None, value: str, *, phrase: bool) -> Node:
    prefix = not phrase and value.endswith("*")
    if not phrase and ("?" in value or "*" in value.rstrip("*")):
        raise QueryError(f"q: only a trailing '*' wildcard is supported ('{value}')")
    tokens = tuple(tokenize(value))
    if not tokens:
        # Punctuation only, or a lone '*': matches everything the field could hold.
        return MatchAll() if field is None else Exists(field)
    return Text(field, tokens, prefix)


def _is_day(raw: str) -> bool:
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip('"')) is not None


_ESCAPED = re.compile(r"\\(.)")


def _unescape(value: str) -> str:
    return _ESCAPED.sub(r"\1", value)


_INT_MAX = 2**63 - 1


def _int(field: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"q: field '{field}' takes whole numbers, not '{raw}'") from None
    if not -_INT_MAX <= value <= _INT_MAX:
        raise QueryError(f"q: '{raw}' is out of range for field '{field}' (64-bit integers)")
    return value


_NOW = re.compile(r"now(?:-(\d+)([smhdw]))?")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _date(field: str, raw: str) -> datetime:
    try:
        return _parse_date(raw)
    except ValueError:
        raise QueryError(
            f"q: field '{field}' takes ISO 8601 dates or now-<n><s|m|h|d|w>, not '{raw}'"
        ) from None
    except OverflowError:
        raise QueryError(f"q: date '{raw}' is out of range for field '{field}'") from None


def _parse_date(raw: str) -> datetime:
    m = _NOW.fullmatch(raw)
    if m:
        now = datetime.now(UTC)
        if m.group(1):
            now -= timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        return now
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    # A whole day is matched as [day, day + 1): that end must exist too.
    if value > _LAST_DAY:
        raise OverflowError(raw)
    return value


_LAST_DAY = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
