"""Report ingestion as plain ASGI, ahead of FastAPI's middleware and routing.

`POST /api/v1/logs/report` is the one path under sustained load. FastAPI's layers (routing,
request objects, exception and CORS middleware) cost about as much CPU per request as the rest
of accepting a report, so the application answers this path itself: the same `respond` as the
documented route, plus the CORS headers and the latency metric those layers would have added.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from ingest.routes.reports import REPORT_PATH, respond
from ingest.services import Services


class Disconnected(Exception):
    """The client went away before its body arrived."""


def handles(scope: Scope) -> bool:
    return bool(
        scope["type"] == "http" and scope["path"] == REPORT_PATH and scope["method"] == "POST"
    )


async def serve_report(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    started = time.perf_counter()
    headers = dict(scope["headers"])
    key = headers.get(b"x-logcenter-key", b"").decode("latin-1") or _query_key(
        scope["query_string"]
    )
    length = headers.get(b"content-length")
    try:
        reply = await respond(
            services,
            _chunks(receive),
            None if length is None else length.decode("latin-1"),
            headers.get(b"content-encoding", b"").decode("latin-1"),
            key,
        )
    except Disconnected:
        return
    out = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(reply.body)),
        *reply.headers,
    ]
    out += cors_headers(services.settings.cors_origins, headers.get(b"origin"))
    await send({"type": "http.response.start", "status": reply.status, "headers": out})
    await send({"type": "http.response.body", "body": reply.body})
    services.latencies.by_route[REPORT_PATH].observe(time.perf_counter() - started)


def cors_headers(allowed: list[str], origin: bytes | None) -> list[tuple[bytes, bytes]]:
    """What the CORS middleware (no credentials) adds to a simple, non-preflight response:
    the allowed origin, and `Vary: Origin` whatever came."""
    vary = (b"vary", b"Origin")
    if origin is not None and "*" in allowed:
        return [(b"access-control-allow-origin", b"*"), vary]
    if origin is not None and origin.decode("latin-1") in allowed:
        return [(b"access-control-allow-origin", origin), vary]
    return [vary]


def _query_key(query: bytes) -> str:
    if not query:
        return ""
    values = parse_qs(query.decode("latin-1")).get("key")
    return values[-1] if values else ""


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
