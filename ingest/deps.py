"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from ingest.services import Services
from store.base import Store


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _store(request: Request) -> Store:
    return _services(request).store


def _check_token(request: Request) -> None:
    token = _services(request).settings.admin_token
    if not token:
        return
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


def require_admin(request: Request) -> None:
    """Writes other than report ingestion need the admin token when one is configured."""
    _check_token(request)


def require_reader(request: Request) -> None:
    """Reads need the admin token only when LOGCENTER_READ_REQUIRES_TOKEN is set."""
    if _services(request).settings.read_requires_token:
        _check_token(request)


#: Replies any route behind `Admin`/`Reader` may give, published in the OpenAPI schema.
GUARDED_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed body, query or cursor; the message names it"},
    401: {"description": "Token required (writes; reads with LOGCENTER_READ_REQUIRES_TOKEN)"},
    403: {"description": "The token is not valid"},
}

ServicesDep = Annotated[Services, Depends(_services)]
StoreDep = Annotated[Store, Depends(_store)]
Admin = Depends(require_admin)
Reader = Depends(require_reader)
