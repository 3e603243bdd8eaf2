"""Compile the backend-neutral query tree (store.lucene) and search requests to query DSL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from store import lucene as q
from store.errors import QueryError
from store.lucene import UPPERCASE_FIELDS as UPPER_FIELDS
from store.search import FacetValue

#: How many terms a multi-token prefix phrase may expand its last token to.
MAX_EXPANSIONS = 1000

Dsl = dict[str, Any]


class Compiler:
    """Translate store.lucene nodes into DSL for one record kind (bugs or events)."""

    def __init__(self, fields: dict[str, q.FieldType], paths: dict[str, str]) -> None:
        self.fields = fields
        self.paths = paths

    def path(self, field: str) -> str:
        if self.fields.get(field) == "text":
            return f"tokens.{field}"
        return self.paths.get(field, field)

    def compile(self, node: q.Node) -> Dsl:
        if isinstance(node, q.MatchAll):
            return {"match_all": {}}
        if isinstance(node, q.Text):
            return self._text(node)
        if isinstance(node, q.Term):
            return self._term(node.field, node.value)
        if isinstance(node, q.Prefix):
            return {"prefix": {self.path(node.field): {"value": node.value}}}
        if isinstance(node, q.Range):
            return self._range(node)
        if isinstance(node, q.Exists):
            return self._exists(node.field)
        if isinstance(node, q.And):
            return {"bool": {"filter": [self.compile(c) for c in node.children]}}
        if isinstance(node, q.Or):
            return {
                "bool": {
                    "should": [self.compile(c) for c in node.children],
                    "minimum_should_match": 1,
                }
            }
        if isinstance(node, q.Not):
            return {"bool": {"must": [{"match_all": {}}], "must_not": [self.compile(node.child)]}}
        raise QueryError(f"q: unsupported query node {node!r}")

    def _text(self, node: q.Text) -> Dsl:
        fields = (node.field,) if node.field else q.FULLTEXT_FIELDS
        clauses = [self._phrase(f"tokens.{f}", node.tokens, node.prefix) for f in fields]
        if len(clauses) == 1:
            return clauses[0]
        return {"bool": {"should": clauses, "minimum_should_match": 1}}

    @staticmethod
    def _phrase(path: str, tokens: tuple[str, ...], prefix: bool) -> Dsl:
        text = " ".join(tokens)
        if not prefix:
            return {"match_phrase": {path: {"query": text, "analyzer": "whitespace"}}}
        if len(tokens) == 1:
            return {"prefix": {path: {"value": tokens[0]}}}
        return {
            "match_phrase_prefix": {
                path: {"query": text, "analyzer": "whitespace", "max_expansions": MAX_EXPANSIONS}
            }
        }

    def _term(self, field: str, value: q.Value) -> Dsl:
        if isinstance(value, datetime):
            stamp = es_date(value)
            return {"range": {self.path(field): {"gte": stamp, "lte": stamp}}}
        return {"term": {self.path(field): value}}

    def _range(self, node: q.Range) -> Dsl:
        bounds: Dsl = {}
        if node.low is not None:
            bounds["gte" if node.include_low else "gt"] = _bound(node.low)
        if node.high is not None:
            bounds["lte" if node.include_high else "lt"] = _bound(node.high)
        if not bounds:
            return {"exists": {"field": self.path(node.field)}}
        return {"range": {self.path(node.field): bounds}}

    def _exists(self, field: str) -> Dsl:
        path = self.path(field)
        exists: Dsl = {"exists": {"field": path}}
        if self.fields.get(field) == "keyword":
            # An empty keyword is stored but means "no value", as for SQL NULL or ''.
            return {"bool": {"filter": [exists], "must_not": [{"term": {path: ""}}]}}
        return exists

    def filters(self, filters: dict[str, list[str]]) -> dict[str, Dsl]:
        """One DSL filter per filtered field: values OR-ed within the field."""
        out: dict[str, Dsl] = {}
        for field, values in filters.items():
            name = q.ALIASES.get(field, field)
            kind = self.fields.get(name)
            if kind not in ("keyword", "int"):
                raise QueryError(f"filters: unknown or unfilterable field '{field}'")
            if not values:
                continue
            terms: list[Any] = (
                [_int_value(name, v) for v in values]
                if kind == "int"
                else [str(v).upper() if name in UPPER_FIELDS else str(v) for v in values]
            )
            out[name] = {"terms": {self.path(name): terms}}
        return out

    def facet_aggs(self, facets: tuple[str, ...], filters: dict[str, Dsl], size: int) -> Dsl:
        """Multi-select facets: each facet's counts apply every filter but its own."""
        aggs: Dsl = {}
        for facet in facets:
            if size <= 0:
                continue
            others = [dsl for field, dsl in filters.items() if field != facet]
            values = {
                "terms": {
                    "field": self.path(facet),
                    "size": size,
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                    # An empty keyword means "no value": it is not a facet value.
                    "exclude": [""],
                }
            }
            aggs[f"facet_{facet}"] = filtered(values, others)
        return aggs


def filtered(agg: Dsl, filters: list[Dsl]) -> Dsl:
    """`agg` under a filter aggregation, or `agg` itself when there is nothing to filter (a
    filter aggregation costs a pass over the matching documents of its own)."""
    if not filters:
        return agg
    return {"filter": {"bool": {"filter": filters}}, "aggs": {"inner": agg}}


def unfiltered(result: Dsl) -> Dsl:
    """The result of the aggregation `filtered` wrapped (or not)."""
    inner: Dsl = result.get("inner", result)
    return inner


def read_facets(aggregations: Dsl, facets: tuple[str, ...]) -> dict[str, list[FacetValue]]:
    out: dict[str, list[FacetValue]] = {}
    for facet in facets:
        agg = aggregations.get(f"facet_{facet}")
        buckets = unfiltered(agg)["buckets"] if agg else []
        out[facet] = [FacetValue(value=str(b["key"]), count=int(b["doc_count"])) for b in buckets]
    return out


def es_date(value: datetime) -> str:
    """A datetime as an ISO string Elasticsearch parses at nanosecond resolution."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _bound(value: q.Value) -> q.Value:
    return es_date(value) if isinstance(value, datetime) else value


def _int_value(field: str, value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise QueryError(f"filters: field '{field}' takes whole numbers, not '{value}'") from None
