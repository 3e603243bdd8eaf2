"""The dashboard's only way to data: a small client for the Log Center HTTP API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

#: Key under which create_app keeps the client in the server's config.
CONFIG_KEY = "LOGCENTER_API"


class ApiError(Exception):
    """An API answer other than 2xx, or no answer at all (`status` 0)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail

    @property
    def needs_token(self) -> bool:
        return self.status in (401, 403)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg', '')}"
            if isinstance(e, dict)
            else str(e)
            for e in detail
        )
    return str(detail)


class ApiClient:
    """Typed-by-endpoint wrapper over httpx; every method returns the decoded JSON body."""

    def __init__(
        self, base_url: str, timeout: float = 15.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"API unreachable at {self._http.base_url}: {exc}") from exc
        if response.is_error:
            raise ApiError(response.status_code, _detail(response))
        return response.json() if response.content else {}

    # bugs
    def bugs(self, params: Sequence[tuple[str, str | int]], token: str | None = None) -> Any:
        return self._call("GET", "/api/v1/bugs", token, params=list(params))

    def bug(self, bug_id: int, token: str | None = None) -> Any:
        return self._call("GET", f"/api/v1/bugs/{bug_id}", token)

    def bug_events(
        self, bug_id: int, page: int = 1, size: int = 20, token: str | None = None
    ) -> Any:
        return self._call(
            "GET", f"/api/v1/bugs/{bug_id}/events", token, params={"page": page, "size": size}
        )

    def transitions(self, bug_id: int, token: str | None = None) -> Any:
        return self._call("GET", f"/api/v1/bugs/{bug_id}/transitions", token)

    def set_status(
        self,
        bug_id: int,
        status: str,
        failure_reason: str | None = None,
        note: str | None = None,
        token: str | None = None,
    ) -> Any:
        body = {"status": status, "failure_reason": failure_reason or None, "note": note or None}
        return self._call("PUT", f"/api/v1/bugs/{bug_id}/status", token, json=body)

    def start_repair(self, bug_id: int, token: str | None = None) -> Any:
        return self._call("POST", f"/api/v1/bugs/{bug_id}/repairs", token)

    def bug_reports(self, bug_id: int, token: str | None = None) -> Any:
        return self._call("GET", f"/api/v1/bugs/{bug_id}/repair-reports", token)

    # repairs, events, projects
    def repair_reports(self, params: Mapping[str, Any], token: str | None = None) -> Any:
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return self._call("GET", "/api/v1/repair-reports", token, params=clean)

    def search_events(self, body: Mapping[str, Any], token: str | None = None) -> Any:
        return self._call("POST", "/api/v1/events/search", token, json=dict(body))

    def projects(self, token: str | None = None) -> Any:
        return self._call("GET", "/api/v1/projects", token)

    def update_project(
        self, project_id: str, changes: Mapping[str, Any], token: str | None = None
    ) -> Any:
        return self._call("PUT", f"/api/v1/projects/{project_id}", token, json=dict(changes))


def current() -> ApiClient:
    """The client of the app serving this request (set up by create_app)."""
    import flask

    client: ApiClient = flask.current_app.config[CONFIG_KEY]
    return client
