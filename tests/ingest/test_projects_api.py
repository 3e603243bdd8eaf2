"""Projects over HTTP: the three states of auto_repair, and the toolchain the workers report."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from client.http import ApiClient, ApiError
from tests.stack import ApiHarness, settings_for


def agent_client(api: ApiHarness) -> ApiClient:
    """The agent's client, its requests answered by the in-process API."""

    def forward(request: httpx.Request) -> httpx.Response:
        reply = api.client.request(
            request.method, request.url.path, content=request.content, headers=request.headers
        )
        return httpx.Response(reply.status_code, content=reply.content, headers=reply.headers)

    return ApiClient("http://api.test", transport=httpx.MockTransport(forward))


def test_auto_repair_is_unset_on_or_off(sqlite_api: ApiHarness) -> None:
    api = sqlite_api
    assert (
        api.client.put("/api/v1/projects/shop", json={"name": "Shop"}).json()["auto_repair"] is None
    )
    for value in (True, False, None):
        reply = api.client.put("/api/v1/projects/shop", json={"auto_repair": value})
        assert reply.status_code == 200 and reply.json()["auto_repair"] is value
        assert api.client.get("/api/v1/projects/shop").json()["auto_repair"] is value
    bad = api.client.put("/api/v1/projects/shop", json={"auto_repair": "sometimes"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "auto_repair"]


def test_a_worker_reports_the_toolchain_it_detected(sqlite_api: ApiHarness) -> None:
    api = sqlite_api
    api.client.put("/api/v1/projects/shop", json={"test_command": "make test"})
    before = datetime.now(UTC)
    with agent_client(api) as client:
        client.report_toolchain(
            "shop",
            {"name": "vitest", "language": "javascript", "test_command": "npx vitest run",
             "missing": ["pnpm"], "problem": "pnpm is not installed on this worker"},
        )  # fmt: skip
        project = client.get_project("shop")
    assert project is not None and project.toolchain is not None
    assert project.toolchain.model_dump(exclude={"detected_at"}) == {
        "name": "vitest",
        "language": "javascript",
        "test_command": "npx vitest run",
        "missing": ["pnpm"],
        "problem": "pnpm is not installed on this worker",
    }
    assert before <= project.toolchain.detected_at <= datetime.now(UTC)
    assert project.test_command == "make test"  # the project's own setting is not touched
    listed = api.client.get("/api/v1/projects").json()["projects"]
    assert [p["toolchain"]["name"] for p in listed] == ["vitest"]


def test_toolchain_of_an_unknown_project_or_with_a_bad_field(sqlite_api: ApiHarness) -> None:
    api = sqlite_api
    with agent_client(api) as client, pytest.raises(ApiError) as refused:
        client.report_toolchain("nope", {"name": "pytest"})
    assert refused.value.status == 404 and "nope" in refused.value.detail
    assert api.client.get("/api/v1/projects/nope").status_code == 404
    api.client.put("/api/v1/projects/shop", json={"name": "Shop"})
    for body, field in (
        ({"missing": "node"}, "missing"),
        ({"name": "x" * 101}, "name"),
        ({"detected_at": "2026-01-01T00:00:00Z"}, "detected_at"),
    ):
        reply = api.client.put("/api/v1/projects/shop/toolchain", json=body)
        assert reply.status_code == 422, reply.text
        assert reply.json()["detail"][0]["loc"] == ["body", field]
    assert api.client.get("/api/v1/projects/shop").json()["toolchain"] is None


def test_a_project_put_ahead_of_its_first_report_has_a_dsn(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    db = f"sqlite:///{tmp_path / 'logcenter.db'}"
    settings = settings_for(tmp_path, redis_url, redis_prefix, store_url=db)
    with ApiHarness(settings) as api:
        made = api.client.put("/api/v1/projects/web", json={"name": "Web"}).json()
        key, number = made["public_key"], made["id"]
        assert re.fullmatch("[0-9a-f]{32}", key) and isinstance(number, int)
        # Without LOGCENTER_PUBLIC_API_URL, the address the request came to.
        assert made["dsn"] == f"http://{key}@testserver/{number}"
        assert api.client.get("/api/v1/projects").json()["projects"][0]["dsn"] == made["dsn"]
    public = settings.model_copy(update={"public_api_url": "https://logs.example.com:8443/"})
    with ApiHarness(public) as api:
        got = api.client.get("/api/v1/projects/web").json()
        assert got["dsn"] == f"https://{key}@logs.example.com:8443/{number}"
        assert got["public_key"] == key  # kept: a DSN given out goes on working
