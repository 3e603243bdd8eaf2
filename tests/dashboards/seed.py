"""Data for the dashboard tests, made the way clients make it: reports over HTTP, then status
moves, project edits and repair reports through the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.services import wait_for
from bench.stack import guide_payload

DIFF = """diff --git a/apps/users/views.py b/apps/users/views.py
--- a/apps/users/views.py
+++ b/apps/users/views.py
@@ -40,3 +40,6 @@ def get_user(request):
-    user_id = int(request.GET['id'])
+    raw = request.GET.get('id', '')
+    if not raw.isdigit():
+        return HttpResponseBadRequest('id must be a number')
+    user_id = int(raw)
     return JsonResponse(load(user_id))
"""


def _report(
    project: str,
    error_type: str,
    file_path: str,
    line: int,
    *,
    env: str = "production",
    level: str = "ERROR",
    message: str = "",
    **extra: Any,
) -> dict[str, Any]:
    payload = guide_payload(
        project_id=project,
        environment=env,
        level=level,
        type=error_type,
        file_path=file_path,
        line_number=line,
        message=message or f"{error_type} in {file_path}",
    )
    payload["error"]["stack_trace"] = [
        "Traceback (most recent call last):",
        f'  File "{file_path}", line {line}, in handler',
        f"{error_type}: {message or 'boom'}",
    ]
    payload.pop("repo_url", None)
    payload.update(extra)
    if payload.get("source", "runtime") != "runtime":
        del payload["error"]["file_path"], payload["error"]["line_number"]
    return payload


#: (payload, occurrences): runtime bugs across projects, levels and environments, plus a CI and
#: a deployment failure.
REPORTS: list[tuple[dict[str, Any], int]] = [
    (guide_payload(), 5),
    (
        _report(
            "rtc_backend",
            "TypeError",
            "apps/orders/serializers.py",
            10,
            env="staging",
            level="WARNING",
            message="unsupported operand type(s) for +: 'int' and 'str'",
        ),
        2,
    ),
    (
        _report(
            "rtc_web",
            "TypeError",
            "src/api/request.ts",
            17,
            message="Cannot read properties of undefined (reading 'id')",
        ),
        3,
    ),
    (
        _report(
            "airhub_app",
            "StateError",
            "lib/main.dart",
            30,
            env="development",
            level="CRITICAL",
            message="Bad state: No element",
            repo_url="https://gitea.example.com/team/airhub_app.git",
        ),
        1,
    ),
    (
        _report(
            "rtc_backend",
            "BuildError",
            "",
            0,
            source="cicd",
            message="pytest failed",
            context={"job_name": "test", "step_name": "pytest"},
        ),
        1,
    ),
    (
        _report(
            "rtc_backend",
            "CrashLoopBackOff",
            "",
            0,
            source="deployment",
            message="container exited with code 1",
            context={"namespace": "prod", "deployment_name": "rtc-api"},
        ),
        1,
    ),
]


@dataclass
class Seeded:
    """Ids of the seeded bugs by role."""

    failed: int = 0  # ValueError in rtc_backend: FIX_FAILED with two failed repair rounds
    fixed: int = 0  # TypeError in rtc_web: FIXED with a passing round
    new: int = 0  # StateError in airhub_app: still NEW
    regressed: int = 0  # TypeError in rtc_backend: FIXED, then seen again (a regression)
    total: int = 0


def seed(client: httpx.Client, token: str = "") -> Seeded:
    """Report, wait until indexed, then drive statuses, projects and repair reports."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    now = datetime.now(UTC)
    ids: dict[tuple[str, str], int] = {}
    for n, (payload, times) in enumerate(REPORTS):
        for k in range(times):
            stamp = now - timedelta(hours=n + 1, minutes=7 * k)
            body = {**payload, "timestamp": stamp.isoformat().replace("+00:00", "Z")}
            response = client.post("/api/v1/logs/report", json=body)
            assert response.status_code == 200, response.text
            ids[payload["project_id"], payload["error"]["type"]] = response.json()["id"]
    expected = sum(times for _, times in REPORTS)
    wait_for(lambda: _occurrences(client) == expected, 90, f"{expected} occurrences indexed")

    result = Seeded(
        failed=ids["rtc_backend", "ValueError"],
        fixed=ids["rtc_web", "TypeError"],
        new=ids["airhub_app", "StateError"],
        total=len(REPORTS),
        regressed=ids["rtc_backend", "TypeError"],
    )
    _move(client, headers, result.failed, "VERIFYING", "PENDING_FIX", "FIXING")
    _move(
        client,
        headers,
        result.failed,
        "FIX_FAILED",
        reason="tests still fail after 2 rounds: test_get_user_rejects_text",
    )
    _move(client, headers, result.fixed, "VERIFYING", "PENDING_FIX", "FIXING", "FIXED")
    for round_no in (1, 2):
        _repair_report(
            client,
            headers,
            result.failed,
            round=round_no,
            passed=False,
            diff=DIFF,
            analysis=f"Round {round_no}: `int()` is called on unvalidated input.",
            test_output="FAILED tests/test_users.py::test_get_user_rejects_text",
            failure_reason="test_get_user_rejects_text still fails",
        )
    _repair_report(
        client,
        headers,
        result.fixed,
        round=1,
        passed=True,
        diff=DIFF,
        analysis="Guard the undefined response.",
        test_output="3 passed",
    )
    _move(client, headers, result.regressed, "VERIFYING", "PENDING_FIX", "FIXING", "FIXED")
    again = {**REPORTS[1][0], "timestamp": now.isoformat().replace("+00:00", "Z")}
    assert client.post("/api/v1/logs/report", json=again).status_code == 200
    wait_for(
        lambda: client.get(f"/api/v1/bugs/{result.regressed}").json()["regression_count"],
        90,
        "the regression to be indexed",
    )
    response = client.put(
        "/api/v1/projects/rtc_backend",
        headers=headers,
        json={"local_path": "/srv/rtc_backend", "name": "RTC backend"},
    )
    assert response.status_code == 200, response.text
    return result


def _occurrences(client: httpx.Client) -> int:
    body = client.get("/api/v1/bugs", params={"size": 100}).json()
    return sum(bug["count"] for bug in body["items"])


def _move(
    client: httpx.Client,
    headers: dict[str, str],
    bug_id: int,
    *statuses: str,
    reason: str | None = None,
) -> None:
    for status in statuses:
        # The moves a repair makes, made as the agent (a person's PENDING_FIX queues a repair).
        response = client.put(
            f"/api/v1/bugs/{bug_id}/status",
            headers=headers,
            json={"status": status, "failure_reason": reason, "by": "agent"},
        )
        assert response.status_code == 200, response.text


def _repair_report(client: httpx.Client, headers: dict[str, str], bug_id: int, **body: Any) -> None:
    body = {
        "test_command": "pytest -q",
        "model": "openai/test-model",
        "tokens": 1200,
        "cost": 0.0031,
        "duration": 12.5,
        "changed_files": ["apps/users/views.py"],
        "phase": "FIXING",
        **body,
    }
    response = client.post(f"/api/v1/bugs/{bug_id}/repair-reports", headers=headers, json=body)
    assert response.status_code == 201, response.text
