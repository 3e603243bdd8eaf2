"""The dashboard's API client: paths, token header, and errors turned into ApiError."""

from __future__ import annotations

import json

import httpx
import pytest

from bench.services import free_port
from client.http import ApiClient, ApiError


def client_for(handler: object) -> tuple[ApiClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)  # type: ignore[operator]

    return ApiClient("http://api.test/", transport=httpx.MockTransport(record)), seen


def test_repeated_filters_and_the_bearer_token() -> None:
    client, seen = client_for(lambda r: httpx.Response(200, json={"total": 0, "items": []}))
    client.bugs([("status", "NEW"), ("status", "FIXED"), ("page", 2)], token="s3cret")
    request = seen[0]
    assert request.url.path == "/api/v1/bugs"
    assert request.url.params.get_list("status") == ["NEW", "FIXED"]
    assert request.headers["authorization"] == "Bearer s3cret"
    client.projects()
    assert "authorization" not in seen[1].headers


def test_writes_send_json_bodies() -> None:
    client, seen = client_for(lambda r: httpx.Response(200, json={}))
    client.change_status(7, "FIX_FAILED", "tests fail", None, token="t")
    client.update_project("rtc_web", {"repo_url": ""}, token="t")
    assert seen[0].method == "PUT" and seen[0].url.path == "/api/v1/bugs/7/status"
    assert json.loads(seen[0].content) == {
        "status": "FIX_FAILED",
        "failure_reason": "tests fail",
        "note": None,
    }
    assert seen[1].url.path == "/api/v1/projects/rtc_web"


def test_repair_report_filters_leave_out_empty_values() -> None:
    client, seen = client_for(lambda r: httpx.Response(200, json={"total": 0, "reports": []}))
    client.repair_reports({"project_id": "", "passed": None, "page": 1})
    assert dict(seen[0].url.params) == {"page": "1"}


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (409, {"detail": "illegal move NEW -> FIXED; allowed: VERIFYING"}, "allowed: VERIFYING"),
        (
            422,
            {"detail": [{"loc": ["body", "repo_url"], "msg": "must be a URL"}]},
            "repo_url: must be a URL",
        ),
        (401, {"detail": "Authorization: Bearer <admin token> required"}, "Bearer"),
    ],
)
def test_errors_carry_status_and_detail(status: int, body: dict[str, object], detail: str) -> None:
    client, _ = client_for(lambda r: httpx.Response(status, json=body))
    with pytest.raises(ApiError) as raised:
        client.bug(1)
    assert raised.value.status == status and detail in raised.value.detail
    assert raised.value.needs_token == (status == 401)


def test_an_unreachable_api_is_an_error_too() -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(ApiError) as raised:
        client.projects()
    assert raised.value.status == 0 and "unreachable" in str(raised.value)
