"""Ingest keys and rate limits as an attacker meets them: keys never leak, one project's key
opens no other, a burst of concurrent repeats gets exactly the bucket and no more."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.stack import guide_payload
from tests.hardening.conftest import ADMIN_TOKEN
from tests.stack import ApiHarness

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_ingest_keys_never_leak_and_open_only_their_project(
    make_api: Callable[..., ApiHarness],
) -> None:
    api = make_api(admin_token=ADMIN_TOKEN)
    for project, key in (("alpha", "alpha-key-1f2e"), ("beta", "beta-key-9a8b")):
        put = api.client.put(f"/api/v1/projects/{project}", json={"ingest_key": key})
        assert put.status_code == 401, "setting a key needs the admin token"
        put = api.client.put(f"/api/v1/projects/{project}", json={"ingest_key": key}, headers=AUTH)
        assert put.status_code == 200
    listing = api.client.get("/api/v1/projects").text
    detail = api.client.get("/api/v1/projects/alpha").text
    for text in (listing, detail, api.client.get("/metrics").text):
        assert "alpha-key-1f2e" not in text and "beta-key-9a8b" not in text
    cross = api.client.post(
        "/api/v1/logs/report?key=beta-key-9a8b", json=guide_payload(project_id="alpha")
    )
    assert cross.status_code == 403
    near = api.client.post(
        "/api/v1/logs/report",
        json=guide_payload(project_id="alpha"),
        headers={"X-LogCenter-Key": "alpha-key-1f2"},
    )
    assert near.status_code == 403
    assert api.client.get("/api/v1/bugs").json()["total"] == 0


def _burst(api: ApiHarness, n: int) -> list[Any]:
    payload = guide_payload(timestamp=None)
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda _: api.report(payload), range(n)))


def test_concurrent_burst_gets_exactly_the_bucket(make_api: Callable[..., ApiHarness]) -> None:
    api = make_api(rate_limit_per_second=0.01, rate_limit_burst=20)
    replies = _burst(api, 120)
    codes = sorted(r.status_code for r in replies)
    assert codes.count(200) == 20 and codes.count(429) == 100
    assert all(int(r.headers["retry-after"]) >= 1 for r in replies if r.status_code == 429)
    api.drain()
    bugs = api.client.get("/api/v1/bugs").json()["items"]
    assert [b["count"] for b in bugs] == [20], "refused reports are not stored"
