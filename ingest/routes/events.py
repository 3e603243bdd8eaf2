"""`POST /api/v1/events/search`: ad hoc queries over occurrences (Discover); `GET
/api/v1/events/{event_id}`: one occurrence, whole (Discover opens a document only when asked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException

from client.shapes import EventSearchOut
from ingest.deps import GUARDED_RESPONSES, Reader, ServicesDep, StoreDep
from ingest.schemas import EventSearchIn, invalid
from store.models import Event
from store.search import MAX_BUCKETS, EventQuery
from store.vocabulary import EVENT_FACET_FIELDS

router = APIRouter(prefix="/api/v1", tags=["events"], responses=GUARDED_RESPONSES)

_FIXED = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "3h": 10800,
    "12h": 43200,
    "1d": 86400,
    "7d": 604800,
    "30d": 2_592_000,
    "90d": 7_776_000,
    "365d": 31_536_000,
}
_TARGET_BUCKETS = 60


def pick_interval(name: str, start: datetime, end: datetime) -> tuple[str, int | None]:
    """For "auto" the smallest interval giving at most ~60 buckets; a fixed one, or the
    smallest wider one that keeps within MAX_BUCKETS (a chart draws no more); or none."""
    if name == "none":
        return name, None
    span = (end - start).total_seconds()
    most, least = (_TARGET_BUCKETS, 0) if name == "auto" else (MAX_BUCKETS - 1, _FIXED[name])
    for label, seconds in _FIXED.items():
        if seconds >= least and span / seconds <= most:
            return label, seconds
    return "365d", _FIXED["365d"]


def interval_label(seconds: int | None, asked: str) -> str:
    """The name of the width a histogram was counted in: the store widens an interval that
    would give more than store.search.MAX_BUCKETS buckets (`90s` for a width without a name)."""
    if seconds is None:
        return asked
    names = {v: k for k, v in _FIXED.items()}
    return names.get(seconds, f"{seconds}s")


@router.post(
    "/events/search",
    response_model=EventSearchOut,
    dependencies=[Reader],
    summary="Search occurrences with a histogram and field facets",
    responses={400: {"description": "Bad query"}},
)
def search_events(body: EventSearchIn, services: ServicesDep) -> EventSearchOut:
    unknown = [f for f in body.facets if f not in EVENT_FACET_FIELDS]
    if unknown:
        raise invalid(
            "body",
            "facets",
            f"facets: unknown field(s) {unknown}; available: {list(EVENT_FACET_FIELDS)}",
        )
    end = body.to or datetime.now(UTC)
    start = body.from_ or end - timedelta(days=services.settings.retention_days)
    if start >= end:
        raise invalid("body", "from", "from must be earlier than to")
    label, seconds = pick_interval(body.interval, start, end)
    result = services.store.search_events(
        EventQuery(
            q=body.q,
            filters=body.filters,
            start=body.from_,
            end=body.to,
            interval_seconds=seconds,
            facets=tuple(body.facets),
            size=body.size,
            page=body.page,
            cursor=body.cursor,
            sort=body.sort,
        )
    )
    return EventSearchOut(
        total=result.total,
        items=result.items,
        histogram=result.histogram,
        facets=result.facets,
        interval=interval_label(result.interval_seconds, label),
        next_cursor=result.next_cursor,
    )


@router.get(
    "/events/{event_id}",
    response_model=Event,
    dependencies=[Reader],
    summary="One occurrence by id, with its stack trace and context",
    responses={404: {"description": "No such occurrence"}},
)
def get_event(event_id: str, store: StoreDep) -> Event:
    event = store.get_event(event_id)
    if event is None:
        raise HTTPException(404, f"occurrence {event_id} not found")
    return event
