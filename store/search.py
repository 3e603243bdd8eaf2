"""Search requests and results shared by every backend."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from store.errors import QueryError
from store.models import Bug, Event
from store.timestamp import Timestamp
from store.vocabulary import BUG_SORTS, FACET_FIELDS

DEFAULT_FACET_SIZE = 20
MAX_PAGE_SIZE = 500


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
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    next_cursor: str | None = None


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
