"""`POST /api/v1/logs/report`: the integration guide's ingestion endpoint."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingest.body import read_body
from ingest.disk import RETRY_AFTER
from ingest.gate import BacklogFull, IngestKeyRequired, RateLimited
from ingest.pipeline import InvalidJSON, accept, parse_body
from ingest.report import ReportIn
from ingest.services import Services
from store.errors import Unavailable
from store.vocabulary import DEFAULT_GROUPING

router = APIRouter(tags=["reports"])

REPORT_PATH = "/api/v1/logs/report"

_FAILED_STEP = {"type": "BuildError", "message": "pytest: 3 failed", "stack_trace": ["..."]}
_EXAMPLES: dict[str, Any] = {
    "runtime": {
        "summary": "A runtime error (file and line required)",
        "value": {
            "project_id": "rtc_backend",
            "environment": "production",
            "level": "ERROR",
            "error": {
                "type": "ValueError",
                "message": "invalid literal for int() with base 10: 'abc'",
                "file_path": "apps/users/views.py",
                "line_number": 42,
                "stack_trace": ["Traceback (most recent call last):", "ValueError: ..."],
            },
            "context": {"url": "/api/users/123"},
        },
    },
    "cicd": {
        "summary": "A CI/CD failure: job_name and step_name at the top level or in context",
        "value": {
            "project_id": "rtc_backend",
            "environment": "ci",
            "level": "ERROR",
            "source": "cicd",
            "job_name": "build",
            "step_name": "pytest",
            "error": _FAILED_STEP,
            "context": {"pipeline_url": "https://ci.example.com/rtc_backend/1234"},
        },
    },
    "deployment": {
        "summary": "A failed deployment: namespace and deployment_name in context or at the top",
        "value": {
            "project_id": "rtc_backend",
            "environment": "production",
            "level": "CRITICAL",
            "source": "deployment",
            "error": {"type": "CrashLoopBackOff", "message": "back-off", "stack_trace": []},
            "context": {"namespace": "production", "deployment_name": "rtc-api"},
        },
    },
}
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The error report. Sent as application/json, or as text/plain by "
        "navigator.sendBeacon; may be gzip-encoded (Content-Encoding: gzip). CI/CD and "
        "deployment reports name where they failed with job_name/step_name or "
        "namespace/deployment_name, at the top level or in context (the top level wins); "
        "either way they are stored in context and make the fingerprint.",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ReportIn"},
                "examples": _EXAMPLES,
            },
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
    REPORT_PATH,
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
        503: {
            "description": "Backlog full, Redis unreachable or the data dir's disk nearly "
            "full; retry after Retry-After"
        },
    },
)
async def report(request: Request) -> Response:
    # The application answers this path ahead of FastAPI's routing (`ingest.app.Served`);
    # this route documents the operation and serves it when that shortcut does not apply.
    services: Services = request.app.state.services
    headers = request.headers
    reply = await respond(
        services,
        request.stream(),
        headers.get("content-length"),
        headers.get("content-encoding", ""),
        headers.get("x-logcenter-key") or request.query_params.get("key") or "",
    )
    return Response(
        reply.body,
        reply.status,
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in reply.headers},
        media_type="application/json",
    )


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()


def _error(status: int, detail: str, retry_after: int | None = None) -> Reply:
    headers = () if retry_after is None else ((b"retry-after", str(retry_after).encode()),)
    return Reply(status, orjson.dumps({"detail": detail}), headers)


async def respond(
    services: Services,
    chunks: AsyncIterable[bytes],
    declared_length: str | None,
    encoding: str,
    ingest_key: str,
) -> Reply:
    """Read, validate and admit one report; the reply the guide promises, or the error."""
    try:
        body = await read_body(
            chunks, services.settings.limits.max_body_bytes, declared_length, encoding
        )
    except HTTPException as exc:
        return _error(exc.status_code, str(exc.detail))
    if low := services.disk.problem():
        return _error(503, f"{low}; retry later", RETRY_AFTER)
    try:
        parsed: ReportIn = parse_body(body)
    except InvalidJSON as exc:
        await _count_rejected(services)
        return _error(400, str(exc))
    except ValidationError as exc:
        await _count_rejected(services)
        return Reply(422, orjson.dumps(validation_detail(exc)))
    try:
        admitted = await accept(
            services.gate,
            parsed,
            services.settings.limits,
            services.scrub_keys,
            ingest_key,
            await _grouping(services, parsed.project_id),
        )
    except IngestKeyRequired as exc:
        return _error(403 if exc.given else 401, str(exc))
    except RateLimited as exc:
        return _error(429, str(exc), exc.retry_after)
    except BacklogFull:
        return _error(503, "ingest backlog is full; retry later", 5)
    except (RedisConnectionError, RedisTimeoutError, OSError):
        return _error(503, "ingest buffer (Redis) is unreachable; retry later", 2)
    if admitted.is_new:
        return Reply(200, b'{"message":"Log reported","id":%d}' % admitted.bug_id)
    return Reply(
        200,
        b'{"message":"Log deduplicated","id":%d,"status":"%s"}'
        % (admitted.bug_id, admitted.status.encode()),
    )


async def _grouping(services: Services, project_id: str) -> str:
    """The project's grouping; the default while the store cannot say (ingestion goes on
    when the store is down: Redis buffers)."""
    try:
        project = await services.projects.by_id(services.store, project_id)
    except Unavailable:
        return DEFAULT_GROUPING
    return (project.grouping if project else None) or DEFAULT_GROUPING


async def _count_rejected(services: Services) -> None:
    # A metric is not worth failing the (already failed) request for.
    with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
        await services.redis.hincrby(services.gate.keys.metrics, "rejected", 1)
