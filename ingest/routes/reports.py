"""`POST /api/v1/logs/report`: the integration guide's ingestion endpoint."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingest.body import read_body
from ingest.gate import BacklogFull, IngestKeyRequired, RateLimited
from ingest.pipeline import InvalidJSON, accept, parse_report
from ingest.report import ReportIn
from ingest.responses import FastJSON
from ingest.services import Services

router = APIRouter(tags=["reports"])

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The error report. Sent as application/json, or as text/plain by "
        "navigator.sendBeacon; may be gzip-encoded (Content-Encoding: gzip).",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ReportIn"}},
            "text/plain": {"schema": {"$ref": "#/components/schemas/ReportIn"}},
        },
    }
}


def validation_detail(exc: ValidationError) -> dict[str, Any]:
    """A 422 body that names every offending field (`error.file_path`, `level`, ...)."""
    errors = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = [str(p) for p in err["loc"]]
        errors.append(
            {
                "loc": ["body", *loc],
                "field": ".".join(loc) or "body",
                "msg": err["msg"],
                "type": err["type"],
            }
        )
    summary = "; ".join(f"{e['field']}: {e['msg']}" for e in errors)
    return {"detail": errors, "message": f"invalid report: {summary}"}


@router.post(
    "/api/v1/logs/report",
    summary="Report an error",
    openapi_extra=_BODY_DOC,
    responses={
        200: {
            "description": "Stored or deduplicated",
            "content": {
                "application/json": {
                    "examples": {
                        "new": {"value": {"message": "Log reported", "id": 123}},
                        "dup": {
                            "value": {"message": "Log deduplicated", "id": 123, "status": "NEW"}
                        },
                    }
                }
            },
        },
        400: {"description": "Body is not JSON (or not valid gzip)"},
        401: {"description": "The project has an ingest key and none was sent"},
        403: {"description": "The ingest key sent is not the project's"},
        413: {"description": "Body over the size limit"},
        422: {"description": "A field is missing or has the wrong type; the reply names it"},
        429: {"description": "The project is over its rate limit; retry after Retry-After"},
        503: {"description": "Backlog full or Redis unreachable; retry after Retry-After"},
    },
)
async def report(request: Request) -> FastJSON:
    # Not through ServicesDep: FastAPI runs a sync dependency in a worker thread, a thread
    # hop (and a worker wake-up) per report on the hottest path.
    services: Services = request.app.state.services
    body = await read_body(request, services.settings.limits.max_body_bytes)
    try:
        parsed: ReportIn = parse_report(body)
    except InvalidJSON as exc:
        await _count_rejected(services)
        raise HTTPException(400, str(exc)) from None
    except ValidationError as exc:
        await _count_rejected(services)
        return FastJSON(validation_detail(exc), status_code=422)
    key = request.headers.get("x-logcenter-key") or request.query_params.get("key") or ""
    try:
        admitted = await accept(
            services.gate, parsed, services.settings.limits, services.scrub_keys, key
        )
    except IngestKeyRequired as exc:
        raise HTTPException(403 if exc.given else 401, str(exc)) from None
    except RateLimited as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    except BacklogFull:
        raise HTTPException(
            503, "ingest backlog is full; retry later", headers={"Retry-After": "5"}
        ) from None
    except (RedisConnectionError, RedisTimeoutError, OSError):
        raise HTTPException(
            503, "ingest buffer (Redis) is unreachable; retry later", headers={"Retry-After": "2"}
        ) from None
    if admitted.is_new:
        return FastJSON({"message": "Log reported", "id": admitted.bug_id})
    return FastJSON(
        {"message": "Log deduplicated", "id": admitted.bug_id, "status": admitted.status}
    )


async def _count_rejected(services: Services) -> None:
    # A metric is not worth failing the (already failed) request for.
    with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
        await services.redis.hincrby(services.gate.keys.metrics, "rejected", 1)
