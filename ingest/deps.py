"""FastAPI dependencies as Annotated aliases (async: no worker-thread hop per request)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from ingest.services import Services
from store.base import Store

#: The largest record id a path may name: what both stores can hold (SQLite INTEGER, ES long).
MAX_ID = 2**63 - 1


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _store(request: Request) -> Store:
    store: Store = request.app.state.services.store
    return store


#: Why a write is refused when no admin token is configured, and the ways out.
NO_TOKEN = (
    "no admin token is configured, so this request is refused: set LOGCENTER_ADMIN_TOKEN for the "
    "API and every worker and dashboard (`logcenter up` generates one in the data dir and "
    "`logcenter token` prints it), then send Authorization: Bearer <admin token>; or set "
    "LOGCENTER_ANONYMOUS_WRITES=true to let anyone who can reach the API change things"
)


def _check_token(request: Request) -> None:
    settings = request.app.state.services.settings
    token = settings.admin_token
    if not token:
        if settings.anonymous_writes:
            return
        raise HTTPException(401, NO_TOKEN, headers={"WWW-Authenticate": "Bearer"})
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(
            401,
            "Authorization: Bearer <admin token> required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(403, "admin token is not valid")


async def require_admin(request: Request) -> None:
    """Writes other than report ingestion need the admin token; without one configured they
    are refused, unless LOGCENTER_ANONYMOUS_WRITES opens them."""
    _check_token(request)


async def require_reader(request: Request) -> None:
    """Reads need the admin token only when LOGCENTER_READ_REQUIRES_TOKEN is set."""
    if request.app.state.services.settings.read_requires_token:
        _check_token(request)


#: Replies any route behind `Admin`/`Reader` may give, published in the OpenAPI schema.
GUARDED_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed body, query or cursor; the message names it"},
    401: {
        "description": "Token required (writes; reads with LOGCENTER_READ_REQUIRES_TOKEN), "
        "or none is configured (the message says how to set one)"
    },
    403: {"description": "The token is not valid"},
}

ServicesDep = Annotated[Services, Depends(_services)]
StoreDep = Annotated[Store, Depends(_store)]
Admin = Depends(require_admin)
Reader = Depends(require_reader)
