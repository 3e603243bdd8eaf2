"""The API application: `create_app(settings)` builds it, `create_served` wraps it as served;
nothing is built at import time."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from config.settings import Settings, get_settings
from ingest import fastpath
from ingest.report import ReportIn
from ingest.routes import (
    alerts,
    bugs,
    events,
    exports,
    health,
    projects,
    repairs,
    reports,
    searches,
)
from ingest.sentry import route as sentry
from ingest.services import Services
from store.errors import Conflict, NotFound, QueryError, Unavailable

DESCRIPTION = """
Log Center collects runtime, CI/CD and deployment errors over HTTP, deduplicates them into bugs
by fingerprint, makes them searchable (Lucene syntax, facets, histograms) and tracks each bug
through a status workflow, with AI repairs recorded round by round.

Report errors with `POST /api/v1/logs/report`; everything else is for the dashboard, the repair
agent and scripts.

Every time in a response (bugs, occurrences, projects, repair reports, status history, search
pages and histograms) is ISO 8601 in UTC with six fraction digits and a `Z`, always the same
width: `2026-01-15T08:00:00.000000Z`. Times you send (a report's `timestamp`, Discover's
`from`/`to`) may be any ISO 8601 form; one without a zone is taken as UTC.
"""


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = services or Services.build(settings)
        # Everything built so far lives as long as the process: keep it out of the cyclic
        # collector's full passes, which otherwise stall every request in flight.
        gc.freeze()
        yield
        await app.state.services.close()

    app = FastAPIOffline(
        title="Log Center API",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    # exports before bugs: /bugs/export is not a /bugs/{bug_id}
    for module in (
        reports,
        sentry,
        projects,
        exports,
        bugs,
        repairs,
        events,
        searches,
        health,
        alerts,
    ):
        app.include_router(module.router)
    _add_error_handlers(app)
    _add_openapi_models(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "OPTIONS"],
        allow_headers=["*"],
        # Sentry's browser SDK reads these to back off.
        expose_headers=["Retry-After", "X-Sentry-Rate-Limits"],
        max_age=86400,
    )
    app.add_middleware(LatencyMiddleware)
    return app


class Served:
    """The ASGI application uvicorn serves: the API, with report ingestion answered ahead of
    it (`ingest.fastpath`), before even FastAPI's own per-request work."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = getattr(self.api.state, "services", None)
        if services is not None and fastpath.handles(scope):
            await fastpath.serve_report(services, scope, receive, send)
        else:
            await self.api(scope, receive, send)


def create_served(settings: Settings | None = None) -> Served:
    """`create_app` as served (`logcenter api`, `uvicorn ingest.app:create_served --factory`)."""
    return Served(create_app(settings))


class LatencyMiddleware:
    """Per-route request latency for /metrics (pure ASGI: no per-request task overhead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "other")
            services = getattr(scope["app"].state, "services", None)
            if services is not None:
                services.latencies.by_route[path].observe(time.perf_counter() - started)


def _add_error_handlers(app: FastAPI) -> None:
    def handler(status: int, headers: dict[str, str] | None = None) -> Any:
        async def handle(_: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

        return handle

    app.add_exception_handler(QueryError, handler(400))
    app.add_exception_handler(NotFound, handler(404))
    app.add_exception_handler(Conflict, handler(409))
    app.add_exception_handler(Unavailable, handler(503, {"Retry-After": "5"}))


def _add_openapi_models(app: FastAPI) -> None:
    """The report body is read by hand (text/plain, gzip); publish its schema all the same."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        defs = TypeAdapter(ReportIn).json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.pop("$defs", {}))
        components["ReportIn"] = defs
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
