"""`POST /api/<project id>/envelope/` and `/api/<project id>/store/`: where Sentry SDKs send.

A DSN `http://<public key>@<host>:<port>/<project id>` (the projects API's `dsn`) points an SDK
here; `ingest.sentry.intake` does the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ingest.sentry.intake import Endpoint, receive
from ingest.services import Services

router = APIRouter(tags=["sentry"])

_RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": 'Accepted (or already accepted): `{"id": "<event_id>"}`'},
    400: {"description": "Not an envelope, not JSON, or not valid compressed data"},
    401: {"description": "No DSN key (X-Sentry-Auth, ?sentry_key= or the envelope's dsn)"},
    403: {"description": "The DSN key is not the project's"},
    404: {"description": "No project has this integer id"},
    413: {"description": "The envelope, or an event in it, is over its size limit"},
    415: {"description": "A Content-Encoding other than gzip, deflate or br"},
    429: {"description": "The project is over its rate limit (Retry-After, X-Sentry-Rate-Limits)"},
    503: {"description": "Backlog full or Redis unreachable; retry after Retry-After"},
}
_BODY = (
    "Sent as application/x-sentry-envelope, application/json or text/plain (browsers), "
    "optionally compressed (Content-Encoding: gzip, deflate or br)."
)


def _route(endpoint: Endpoint) -> Callable[[str, Request], Awaitable[Response]]:
    async def serve(project: str, request: Request) -> Response:
        return await _serve(request, project, endpoint)

    return serve


_ENDPOINTS: tuple[tuple[Endpoint, str, str], ...] = (
    (
        "envelope",
        "Sentry SDKs: an envelope",
        "Event items become reports of the project; other items are skipped. ",
    ),
    ("store", "Sentry SDKs (older): one event", "The body is one event. "),
)
for _endpoint, _summary, _what in _ENDPOINTS:
    router.add_api_route(
        f"/api/{{project}}/{_endpoint}/",
        _route(_endpoint),
        methods=["POST"],
        summary=_summary,
        description=_what + _BODY,
        responses=_RESPONSES,
    )


async def _serve(request: Request, project: str, endpoint: Endpoint) -> Response:
    services: Services = request.app.state.services
    reply = await receive(
        services,
        project,
        endpoint,
        request.stream(),
        request.headers,
        request.query_params.get("sentry_key", ""),
    )
    return Response(
        reply.body,
        reply.status,
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in reply.headers},
        media_type="application/json",
    )
