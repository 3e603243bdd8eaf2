"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from ingest.deps import ServicesDep
from ingest.metrics import label_value, render_counters, render_gauge

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Redis and the store are reachable, and the data dir has disk space",
    responses={503: {"description": "A dependency is down"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await services.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # report any failure as not ready, never raise
        checks["redis"] = f"down: {exc.__class__.__name__}"
    try:
        ok = await asyncio.to_thread(services.store.ping)
        checks["store"] = "ok" if ok else "down"
    except Exception as exc:
        checks["store"] = f"down: {exc.__class__.__name__}"
    low = services.disk.problem()
    if not low and checks["store"] == "ok":
        try:
            low = await asyncio.to_thread(services.store.write_block)
        except Exception as exc:
            low = f"cannot tell: {exc.__class__.__name__}"
    checks["disk"] = f"low: {low}" if low else "ok"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(services: ServicesDep) -> PlainTextResponse:
    keys = services.gate.keys
    lines: list[str] = []
    try:
        pipe = services.redis.pipeline(transaction=False)
        pipe.hgetall(keys.metrics)
        pipe.xlen(keys.stream)
        pipe.xrange(keys.stream, count=1)
        pipe.hgetall(keys.purged)
        counters, backlog, oldest, purged = await pipe.execute()
        counts = {k.decode(): int(v) for k, v in counters.items()}
        reports = {k: counts.get(k, 0) for k in ("new", "deduplicated", "rejected")}
        lines += render_counters("logcenter_reports_total", "Reports by outcome", reports, "result")
        lines += render_counters(
            "logcenter_regressions_total",
            "Bugs reopened by a report",
            {"reopened": counts.get("reopened", 0)},
            "kind",
        )
        lines += render_counters(
            "logcenter_rate_limited_total",
            "Reports refused by a project's rate limit",
            {
                "first_occurrence": counts.get("limited_new", 0),
                "repeat": counts.get("limited_repeat", 0),
            },
            "kind",
        )
        lines += render_counters(
            "logcenter_retention_purged_total",
            "Occurrences dropped by retention, per project",
            {label_value(k.decode()): int(v) for k, v in purged.items()},
            "project",
        )
        lines += render_gauge("logcenter_stream_backlog", "Reports not yet indexed", backlog)
        lag = 0.0
        if oldest:
            lag = max(time.time() - int(oldest[0][0].split(b"-")[0]) / 1000, 0.0)
        lines += render_gauge(
            "logcenter_indexer_lag_seconds",
            "Age of the oldest report not yet indexed",
            round(lag, 3),
        )
        lines += render_gauge("logcenter_redis_up", "Redis reachable", 1)
    except Exception:
        lines += render_gauge("logcenter_redis_up", "Redis reachable", 0)
    lines += services.latencies.render("logcenter_request_duration_seconds")
    return PlainTextResponse(
        "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8"
    )
