"""Search requests and results shared by every backend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from store.errors import QueryError
from store.models import Bug, Event
from store.timestamp import Timestamp
from store.vocabulary import BUG_SORTS, FACET_FIELDS

DEFAULT_FACET_SIZE = 20
MAX_PAGE_SIZE = 500
#: The most buckets a histogram holds: a window wider than this many intervals is counted in
#: wider buckets (a whole multiple of the interval asked for), so a chart never receives more
#: bars than it can draw, nor a backend more buckets than it allows (a bug seen for a year,
#: counted by the minute, would be half a million).
MAX_BUCKETS = 200


class FacetValue(BaseModel):
    value: str
    count: int


class BugQuery(BaseModel):
    """A bug search: Lucene query string, structured filters (OR within a field, AND across)."""

    q: str = ""
    filters: dict[str, list[str]] = Field(default_factory=dict)
    #: One of BUG_SORTS, optionally prefixed with "-" for descending. Ties break on id.
    sort: str = "-last_seen"
    page: int = 1
    size: int = 50
    #: Opaque cursor from a previous page's `next_cursor`; when set, `page` is ignored.
    cursor: str | None = None
    facets: tuple[str, ...] = FACET_FIELDS
    facet_size: int = DEFAULT_FACET_SIZE
    #: False: only the page (no total, facets or histogram; `total` is -1), for walking every
    #: page of a search (exports), where counting all hits again per page would dominate.
    count: bool = True


class BugPage(BaseModel):
    total: int
    items: list[Bug]
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    next_cursor: str | None = None


class EventQuery(BaseModel):
    """An ad hoc search over occurrences (Discover)."""

    q: str = ""
    filters: dict[str, list[str]] = Field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    #: Histogram bucket width in seconds; None = no histogram.
    interval_seconds: int | None = None
    facets: tuple[str, ...] = ()
    facet_size: int = DEFAULT_FACET_SIZE
    size: int = 50
    page: int = 1
    cursor: str | None = None
    sort: Literal["-timestamp", "timestamp"] = "-timestamp"
    #: As BugQuery.count.
    count: bool = True


class HistogramBucket(BaseModel):
    key: Timestamp
    count: int


class EventPage(BaseModel):
    total: int
    items: list[Event]
    histogram: list[HistogramBucket] = Field(default_factory=list)
    #: The width the histogram was counted in (EventQuery.interval_seconds, or a multiple of it
    #: when that would give more than MAX_BUCKETS buckets); None without a histogram.
    interval_seconds: int | None = None
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    next_cursor: str | None = None


def bucket_width(interval_seconds: int, start: datetime | None, end: datetime | None) -> int:
    """The width a histogram over [start, end) is counted in: `interval_seconds`, or its
    smallest multiple for which the window touches at most MAX_BUCKETS epoch-aligned buckets."""
    if start is None or end is None or end <= start:
        return interval_seconds
    span = (end - start).total_seconds()
    return interval_seconds * max(1, math.ceil(span / (interval_seconds * (MAX_BUCKETS - 1))))


def merge_buckets(
    buckets: Sequence[HistogramBucket], width: int
) -> tuple[list[HistogramBucket], int]:
    """Epoch-aligned buckets of `width` seconds, merged into wider ones (a multiple of `width`)
    when they spread over more than MAX_BUCKETS: for a window without bounds, which
    bucket_width cannot size in advance. Returns the buckets and their width."""
    if not buckets:
        return list(buckets), width
    first, last = (int(b.key.timestamp()) // width for b in (buckets[0], buckets[-1]))
    factor = 1
    while last // factor - first // factor + 1 > MAX_BUCKETS:
        factor = max(factor + 1, math.ceil((last - first + 1) / (MAX_BUCKETS - 1)))
    if factor == 1:
        return list(buckets), width
    wide = width * factor
    counts: dict[int, int] = {}
    for b in buckets:
        key = int(b.key.timestamp()) // wide * wide
        counts[key] = counts.get(key, 0) + b.count
    keys = sorted(counts)
    return [
        HistogramBucket(key=datetime.fromtimestamp(k, UTC), count=counts[k]) for k in keys
    ], wide


def encode_cursor(values: list[Any]) -> str:
    import base64

    import orjson

    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    import base64
    import binascii

    import orjson

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise QueryError(f"cursor: not a cursor returned by this API ({exc})") from exc
    if not isinstance(values, list) or len(values) != 2:
        raise QueryError("cursor: not a cursor returned by this API")
    return values


def bug_sort(sort: str) -> tuple[str, bool]:
    """A bug sort key ("-count") -> (field, descending); QueryError for an unknown field."""
    field = sort.removeprefix("-")
    if field not in BUG_SORTS:
        raise QueryError(f"sort: unknown sort '{sort}' (use {', '.join(BUG_SORTS)}, '-' = desc)")
    return field, sort.startswith("-")


def check_facets(facets: Sequence[str], allowed: Sequence[str]) -> None:
    for name in facets:
        if name not in allowed:
            raise QueryError(f"facets: unknown facet '{name}' (known: {', '.join(allowed)})")


def check_paging(page: int, size: int, max_size: int = MAX_PAGE_SIZE) -> None:
    if page < 1:
        raise QueryError(f"page: must be 1 or more, not {page}")
    if not 0 <= size <= max_size:
        raise QueryError(f"size: must be between 0 and {max_size}, not {size}")


def cursor_values(cursor: str) -> list[Any]:
    """The [sort value, tie-breaker] pair of a cursor made by a backend; QueryError if forged."""
    values = decode_cursor(cursor)
    if not all(isinstance(v, int | str) and not isinstance(v, bool) for v in values):
        raise QueryError("cursor: not a cursor returned by this API")
    return values
