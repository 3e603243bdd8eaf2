"""`GET /api/v1/bugs/export` and `/api/v1/events/export`: a whole search, streamed as NDJSON or
CSV for audits and spreadsheets (ingest/export.py walks it in constant memory)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from ingest import export
from ingest.deps import GUARDED_RESPONSES, Reader, ServicesDep
from ingest.routes.bugs import BugSearch, Multi
from ingest.schemas import EventSearchIn, invalid
from store.search import EventQuery

router = APIRouter(prefix="/api/v1", tags=["export"], responses=GUARDED_RESPONSES)

FormatParam = Annotated[
    export.Format, Query(description="ndjson (one JSON object a line) or csv (with a header)")
]
Limit = Annotated[
    int | None,
    Query(ge=0, description="rows at most (default and ceiling: LOGCENTER_EXPORT_MAX_ROWS)"),
]
_STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every hit of the search, in the search's order",
        "content": {"application/x-ndjson": {}, "text/csv": {}},
    },
    422: {"description": "A parameter is invalid; the reply names it"},
}


def event_search(
    q: Annotated[str, Query(max_length=4000, description="Lucene syntax, as in Discover")] = "",
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    sort: Literal["-timestamp", "timestamp"] = "-timestamp",
    project_id: Multi = None,
    source: Multi = None,
    level: Multi = None,
    environment: Multi = None,
    error_type: Multi = None,
    version: Multi = None,
    commit_hash: Multi = None,
    file_path: Multi = None,
) -> EventQuery:
    """Discover's query, window and filters (each filter field repeatable: OR within it)."""
    window = EventSearchIn.model_validate({"from": from_, "to": to})  # zone-less -> UTC
    if window.from_ and window.to and window.from_ >= window.to:
        raise invalid("query", "from", "from must be earlier than to")
    given = {
        "project_id": project_id,
        "source": source,
        "level": level,
        "environment": environment,
        "error_type": error_type,
        "version": version,
        "commit_hash": commit_hash,
        "file_path": file_path,
    }
    filters = {k: v for k, v in given.items() if v}
    return EventQuery(q=q, filters=filters, start=window.from_, end=window.to, sort=sort)


def _streamed(rows: Any, fields: tuple[str, ...], fmt: export.Format, name: str) -> Any:
    return StreamingResponse(
        export.encode(rows, fields, fmt),
        media_type=export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _limit(services: ServicesDep, asked: int | None) -> int:
    ceiling = services.settings.export_max_rows
    return ceiling if asked is None else min(asked, ceiling)


@router.get(
    "/bugs/export",
    dependencies=[Reader],
    response_class=StreamingResponse,
    responses=_STREAMED,
    summary="Export every bug a search finds (NDJSON or CSV)",
)
def export_bugs(
    services: ServicesDep,
    search: BugSearch,
    format: FormatParam = "ndjson",
    limit: Limit = None,
) -> Any:
    rows = export.bugs(services.store, search, _limit(services, limit))
    return _streamed(rows, export.BUG_FIELDS, format, "bugs")


@router.get(
    "/events/export",
    dependencies=[Reader],
    response_class=StreamingResponse,
    responses=_STREAMED,
    summary="Export every occurrence a Discover search finds (NDJSON or CSV)",
)
def export_events(
    services: ServicesDep,
    search: Annotated[EventQuery, Depends(event_search)],
    format: FormatParam = "ndjson",
    limit: Limit = None,
) -> Any:
    rows = export.events(services.store, search, _limit(services, limit))
    return _streamed(rows, export.EVENT_FIELDS, format, "occurrences")
