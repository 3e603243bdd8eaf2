"""The Log Center HTTP API as the agent uses it: read a bug and its project, move the bug's
status, post repair reports. Workers may run on another machine, so this is their only way in.
Answers are read into the same models the API serves (`Bug`, `ProjectOut`).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from agent.errors import ApiError, StatusConflict
from ingest.schemas import ProjectOut
from store.models import Bug, RepairReportIn

AGENT = "agent"
_ATTEMPTS = 3


class ApiClient:
    """A small synchronous client; connection errors are retried a few times."""

    def __init__(self, api_url: str, admin_token: str = "", timeout: float = 15.0) -> None:
        headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        self._http = httpx.Client(base_url=api_url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, json: Any = None) -> httpx.Response:
        for attempt in range(_ATTEMPTS):
            try:
                return self._http.request(method, path, json=json)
            except httpx.TransportError as exc:
                if attempt == _ATTEMPTS - 1:
                    raise ApiError(f"Log Center API unreachable: {type(exc).__name__}") from exc
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

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
        body = {"status": status, "failure_reason": failure_reason, "note": note, "by": AGENT}
        response = self._request("PUT", f"/api/v1/bugs/{bug_id}/status", json=body)
        if response.status_code == 409:
            raise StatusConflict(
                f"bug {bug_id}: move to {status} refused: {response.text[:200]}", 409
            )
        _expect(response, 200, f"status of bug {bug_id}")
        return Bug.model_validate(response.json())

    def post_report(self, report: RepairReportIn) -> None:
        body = report.model_dump(mode="json", exclude={"bug_id"})
        response = self._request("POST", f"/api/v1/bugs/{report.bug_id}/repair-reports", json=body)
        _expect(response, 201, f"repair report of bug {report.bug_id}")


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise ApiError(
            f"{what}: API answered {response.status_code}: {response.text[:200]}",
            response.status_code,
        )
