"""The client of the Log Center HTTP API for every program that is not the API itself.

Workers may run on another machine and the dashboard reads nothing but the API, so this is their
only way in. Two families of calls share one connection, one token rule and one error type:

- typed calls, for the repair agent: `get_bug`, `get_project`, `set_status`, `post_report`,
  `report_toolchain` read the answer into `Bug` / `ProjectOut`; their errors say what was asked
  and how the API answered;
- JSON calls, for the dashboard: `bugs`, `bug`, `bug_events`, `transitions`, `change_status`,
  `start_repair`, `bug_reports`, `repair_status`, `repair_reports`, `search_events`,
  `projects`, `update_project` and the saved searches' calls return the decoded body; their
  errors carry the API's own `detail`, for a person to read (`export` streams instead).

A call sends its own `token` if it has one (the dashboard passes the browser's), else the admin
token the client was made with. Transport errors are retried (`attempts` tries in all).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from client.shapes import MERGED_INTO_HEADER, ProjectOut
from store.models import Bug, RepairReportIn
from store.vocabulary import AGENT

ATTEMPTS = 3
_BACKOFF = 0.5  # seconds; the n-th retry waits n times this


class ApiError(Exception):
    """An API answer other than the expected one, or no answer at all (`status` 0).

    `detail` is the API's own explanation; `message` (the text of the error) defaults to
    "<status>: <detail>".
    """

    def __init__(
        self, status: int, detail: str, message: str | None = None, merged_into: int | None = None
    ) -> None:
        super().__init__(message or (f"{status}: {detail}" if status else detail))
        self.status = status
        self.detail = detail
        #: The bug a merged bug now lives in (its 404 names it).
        self.merged_into = merged_into

    @property
    def needs_token(self) -> bool:
        return self.status in (401, 403)


class StatusConflict(ApiError):
    """The API refused a status move (409): someone else moved the bug meanwhile."""


class ApiClient:
    """A small synchronous client over httpx; `transport` lets tests answer in-process."""

    def __init__(
        self,
        base_url: str,
        admin_token: str = "",
        timeout: float = 15.0,
        *,
        transport: httpx.BaseTransport | None = None,
        attempts: int = ATTEMPTS,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )
        self._admin_token = admin_token
        self._attempts = max(1, attempts)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- typed calls (the agent) ------------------------------------------------------------

    def get_bug(self, bug_id: int) -> Bug:
        response = self._request("GET", f"/api/v1/bugs/{bug_id}")
        _expect(response, 200, f"bug {bug_id}")
        return Bug.model_validate(response.json())

    def get_project(self, project_id: str) -> ProjectOut | None:
        response = self._request("GET", f"/api/v1/projects/{project_id}")
        if response.status_code == 404:
            return None
        _expect(response, 200, f"project {project_id}")
        return ProjectOut.model_validate(response.json())

    def set_status(
        self, bug_id: int, status: str, failure_reason: str | None = None, note: str | None = None
    ) -> Bug:
        """Move the bug as the agent; a refused move (409) is a StatusConflict."""
        body = {"status": status, "failure_reason": failure_reason, "note": note, "by": AGENT}
        response = self._request("PUT", f"/api/v1/bugs/{bug_id}/status", json=body)
        if response.status_code == 409:
            raise StatusConflict(
                409,
                _detail(response),
                f"bug {bug_id}: move to {status} refused: {response.text[:200]}",
            )
        _expect(response, 200, f"status of bug {bug_id}")
        return Bug.model_validate(response.json())

    def report_toolchain(self, project_id: str, info: Mapping[str, Any]) -> None:
        """Record what this worker detected about the project's toolchain: `name`, `language`,
        `test_command`, `missing` (executables not found), `problem` (the API stamps the time).
        """
        path = f"/api/v1/projects/{project_id}/toolchain"
        response = self._request("PUT", path, json=dict(info))
        _expect(response, 200, f"toolchain of project {project_id}")

    def post_report(self, report: RepairReportIn) -> None:
        body = report.model_dump(mode="json", exclude={"bug_id"})
        response = self._request("POST", f"/api/v1/bugs/{report.bug_id}/repair-reports", json=body)
        _expect(response, 201, f"repair report of bug {report.bug_id}")

    # -- JSON calls (the dashboard): bugs -----------------------------------------------------

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

    def change_status(
        self,
        bug_id: int,
        status: str,
        failure_reason: str | None = None,
        note: str | None = None,
        token: str | None = None,
        fixed_version: str | None = None,
    ) -> Any:
        """Move the bug as a person (no `by`); empty texts are sent as null. `fixed_version`
        goes with a move to FIXED, VERIFIED or DEPLOYED (else the newest release seen)."""
        body = {"status": status, "failure_reason": failure_reason or None, "note": note or None}
        if fixed_version:
            body["fixed_version"] = fixed_version
        return self._call("PUT", f"/api/v1/bugs/{bug_id}/status", token, json=body)

    def start_repair(self, bug_id: int, token: str | None = None) -> Any:
        return self._call("POST", f"/api/v1/bugs/{bug_id}/repairs", token)

    def merge_bugs(self, target_id: int, bug_ids: Sequence[int], token: str | None = None) -> Any:
        """Merge `bug_ids` into `target_id`, as the dashboard; the target as it is now."""
        body = {"bug_ids": list(bug_ids), "by": "dashboard"}
        return self._call("POST", f"/api/v1/bugs/{target_id}/merge", token, json=body)

    def bug_reports(self, bug_id: int, token: str | None = None) -> Any:
        return self._call("GET", f"/api/v1/bugs/{bug_id}/repair-reports", token)

    # -- JSON calls (the dashboard): repairs, events, projects --------------------------------

    def repair_reports(self, params: Mapping[str, Any], token: str | None = None) -> Any:
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return self._call("GET", "/api/v1/repair-reports", token, params=clean)

    def repair_status(self, token: str | None = None) -> Any:
        """Whether bugs are repaired without a click (`automatic`), why not (`reason`,
        `reason_code`), the install's default and the repair workers' heartbeats."""
        return self._call("GET", "/api/v1/repairs/status", token)

    def event(self, event_id: str, token: str | None = None) -> Any:
        return self._call("GET", f"/api/v1/events/{quote(event_id, safe='')}", token)

    def search_events(self, body: Mapping[str, Any], token: str | None = None) -> Any:
        return self._call("POST", "/api/v1/events/search", token, json=dict(body))

    def export(
        self, kind: str, params: Sequence[tuple[str, str]], token: str | None = None
    ) -> httpx.Response:
        """The answer of `GET /api/v1/{kind}/export` (`bugs` or `events`), streamed: the caller
        reads it (`iter_bytes`) and closes it; an error answer is returned as it is."""
        headers = _bearer(token or self._admin_token)
        request = self._http.build_request(
            "GET", f"/api/v1/{kind}/export", params=list(params), headers=headers
        )
        try:
            return self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc

    def searches(self, token: str | None = None) -> Any:
        return self._call("GET", "/api/v1/searches", token)

    def search(self, search_id: int, token: str | None = None) -> Any:
        return self._call("GET", f"/api/v1/searches/{int(search_id)}", token)

    def save_search(
        self, body: Mapping[str, Any], search_id: int | None = None, token: str | None = None
    ) -> Any:
        """Keep a Discover view: a new saved search, or `search_id` replaced."""
        if search_id is None:
            return self._call("POST", "/api/v1/searches", token, json=dict(body))
        return self._call("PUT", f"/api/v1/searches/{int(search_id)}", token, json=dict(body))

    def delete_search(self, search_id: int, token: str | None = None) -> Any:
        return self._call("DELETE", f"/api/v1/searches/{int(search_id)}", token)

    def projects(self, token: str | None = None) -> Any:
        return self._call("GET", "/api/v1/projects", token)

    def update_project(
        self, project_id: str, changes: Mapping[str, Any], token: str | None = None
    ) -> Any:
        return self._call("PUT", f"/api/v1/projects/{project_id}", token, json=dict(changes))

    def alerts(self, token: str | None = None) -> dict[str, Any]:
        """The alert channels (no secrets), rules and latest deliveries, for the Alerts page."""
        return {
            "channels": self._call("GET", "/api/v1/alerts/channels", token)["channels"],
            "rules": self._call("GET", "/api/v1/alerts/rules", token),
            "deliveries": self._call("GET", "/api/v1/alerts/deliveries", token),
        }

    # -- sending ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        """A typed call's request with the admin token; any answer is returned as it is."""
        try:
            return self._send(method, path, None, json=json)
        except httpx.TransportError as exc:
            message = f"Log Center API unreachable: {type(exc).__name__}"
            raise self._unreachable(exc, message) from exc

    def _call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        """A JSON call: the decoded body of a 2xx answer ({} if empty), else an ApiError."""
        try:
            response = self._send(method, path, token, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if response.is_error:
            merged = response.headers.get(MERGED_INTO_HEADER, "")
            target = int(merged) if merged.isdigit() else None
            raise ApiError(response.status_code, _detail(response), merged_into=target)
        return response.json() if response.content else {}

    def _send(self, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        """Send, retrying transport errors; the last try's error is raised as it is."""
        headers = _bearer(token or self._admin_token)
        for attempt in range(1, self._attempts):
            try:
                return self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                time.sleep(_BACKOFF * attempt)
        return self._http.request(method, path, headers=headers, **kwargs)

    def _unreachable(self, exc: httpx.HTTPError, message: str | None = None) -> ApiError:
        return ApiError(0, f"API unreachable at {self._http.base_url}: {exc}", message)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _expect(response: httpx.Response, status: int, what: str) -> None:
    """A typed call's check: any other status is an ApiError naming `what` was asked."""
    if response.status_code != status:
        raise ApiError(
            response.status_code,
            _detail(response),
            f"{what}: API answered {response.status_code}: {response.text[:200]}",
        )


def _detail(response: httpx.Response) -> str:
    """The API's `detail`, FastAPI's validation errors joined into one line."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(_validation_error(e) for e in detail)
    return str(detail)


def _validation_error(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    where = ".".join(str(p) for p in error.get("loc", [])[1:])
    return f"{where}: {error.get('msg', '')}"
