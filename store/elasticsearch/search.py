"""Bug and event searches for the Elasticsearch backend: one request each.

The query string becomes the `query`; structured filters go to `post_filter` so that each facet
(a filter aggregation applying every filter but its own) keeps multi-select semantics, while
hits, totals and the histogram see every filter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from store import lucene as lq
from store.elasticsearch.mapping import EVENT_PATHS, IndexNames, bug_from_doc, event_from_doc
from store.elasticsearch.query import Compiler, Dsl, filtered, read_facets, unfiltered
from store.errors import QueryError
from store.search import (
    BugPage,
    BugQuery,
    EventPage,
    EventQuery,
    HistogramBucket,
    bucket_width,
    bug_sort,
    check_facets,
    check_paging,
    cursor_values,
    encode_cursor,
    merge_buckets,
)
from store.vocabulary import EVENT_FACET_FIELDS, FACET_FIELDS

#: What a bug document holds for matching and counting only, never returned.
BUG_SOURCE_EXCLUDES = ["tokens", "count_base", "count_epoch", "purged_before"]


def _request(
    compiler: Compiler,
    node: lq.Node,
    filters: dict[str, Dsl],
    sort: list[Dsl],
    page: int,
    size: int,
    cursor: str | None,
) -> dict[str, Any]:
    """The shared part of a paged search; fetches one extra hit to know if more follow."""
    body: dict[str, Any] = {
        "query": compiler.compile(node),
        "sort": sort,
        "size": size + 1 if size else 0,
        "track_total_hits": True,
    }
    if filters:
        body["post_filter"] = {"bool": {"filter": list(filters.values())}}
    if cursor is not None:
        body["search_after"] = cursor_values(cursor)
    else:
        body["from_"] = (page - 1) * size
    return body


def _page(hits: list[dict[str, Any]], size: int) -> tuple[list[dict[str, Any]], str | None]:
    if size == 0 or len(hits) <= size:
        return hits[:size], None
    return hits[:size], encode_cursor(list(hits[size - 1]["sort"]))


class BugSearch:
    def __init__(self, es: Elasticsearch, names: IndexNames, query: BugQuery) -> None:
        self.es = es
        self.names = names
        self.query = query
        self.compiler = Compiler(lq.BUG_FIELDS, {})

    def run(self) -> BugPage:
        query = self.query
        field, descending = bug_sort(query.sort)
        order = "desc" if descending else "asc"
        check_paging(query.page, query.size)
        check_facets(query.facets, FACET_FIELDS)
        filters = self.compiler.filters(query.filters)
        body = _request(
            self.compiler,
            lq.parse(query.q, lq.BUG_FIELDS),
            filters,
            [{field: order}, {"id": order}],
            query.page,
            query.size,
            query.cursor,
        )
        if query.count:
            body["aggs"] = self.compiler.facet_aggs(query.facets, filters, query.facet_size)
        else:
            body["track_total_hits"] = False
        resp = self.es.search(index=self.names.bugs, source_excludes=BUG_SOURCE_EXCLUDES, **body)
        hits, next_cursor = _page(resp["hits"]["hits"], query.size)
        return BugPage(
            total=int(resp["hits"]["total"]["value"]) if query.count else -1,
            items=[bug_from_doc(h["_source"]) for h in hits],
            facets=read_facets(resp.get("aggregations", {}), query.facets) if query.count else {},
            next_cursor=next_cursor,
        )


class EventSearch:
    def __init__(self, es: Elasticsearch, names: IndexNames, query: EventQuery) -> None:
        self.es = es
        self.names = names
        self.query = query
        self.compiler = Compiler(lq.EVENT_FIELDS, EVENT_PATHS)

    def run(self, node: lq.Node | None) -> EventPage:
        """Search with `node` (None = the query string) plus the query's window and filters."""
        query = self.query
        check_paging(query.page, query.size)
        check_facets(query.facets, EVENT_FACET_FIELDS)
        if query.interval_seconds is not None and query.interval_seconds <= 0:
            raise QueryError(f"interval_seconds: must be positive, not {query.interval_seconds}")
        if node is None:
            node = lq.parse(query.q, lq.EVENT_FIELDS)
        if query.start is not None or query.end is not None:
            node = lq.And((node, lq.Range("timestamp", query.start, query.end, True, False)))
        filters = self.compiler.filters(query.filters)
        order = "desc" if query.sort.startswith("-") else "asc"
        body = _request(
            self.compiler,
            node,
            filters,
            [{"@timestamp": order}, {"event.id": order}],
            query.page,
            query.size,
            query.cursor,
        )
        if not query.count:
            return self._page_only(body, query.size)
        aggs = self.compiler.facet_aggs(query.facets, filters, query.facet_size)
        width = query.interval_seconds
        if width is not None:
            width = bucket_width(width, query.start, query.end)
            by_time = {
                "date_histogram": {
                    "field": "@timestamp",
                    "fixed_interval": f"{width}s",
                    "min_doc_count": 1,
                }
            }
            aggs["histogram"] = filtered(by_time, list(filters.values()))
            # The buckets hold every hit once: their sum is the exact total, so the hits need
            # not be counted again (counting them all defeats the sort's early termination).
            body["track_total_hits"] = False
        body["aggs"] = aggs
        # The token strings are for matching only: never ship them back (~40% of a document).
        resp = self.es.search(index=self.names.events_pattern, source_excludes=["tokens"], **body)
        hits, next_cursor = _page(resp["hits"]["hits"], query.size)
        aggregations = resp.get("aggregations", {})
        histogram = _histogram(aggregations)
        total = (
            sum(b.count for b in histogram)
            if width is not None
            else int(resp["hits"]["total"]["value"])
        )
        if width is not None:
            histogram, width = merge_buckets(histogram, width)
        return EventPage(
            total=total,
            items=[event_from_doc(h["_source"]) for h in hits],
            histogram=histogram,
            interval_seconds=width,
            facets=read_facets(aggregations, query.facets),
            next_cursor=next_cursor,
        )

    def _page_only(self, body: dict[str, Any], size: int) -> EventPage:
        """One page, nothing counted (EventQuery.count false)."""
        body["track_total_hits"] = False
        resp = self.es.search(index=self.names.events_pattern, source_excludes=["tokens"], **body)
        hits, next_cursor = _page(resp["hits"]["hits"], size)
        items = [event_from_doc(h["_source"]) for h in hits]
        return EventPage(total=-1, items=items, next_cursor=next_cursor)


def _histogram(aggregations: dict[str, Any]) -> list[HistogramBucket]:
    if "histogram" not in aggregations:
        return []
    return [
        HistogramBucket(key=datetime.fromtimestamp(b["key"] / 1000, UTC), count=b["doc_count"])
        for b in unfiltered(aggregations["histogram"])["buckets"]
        if b["doc_count"]
    ]
