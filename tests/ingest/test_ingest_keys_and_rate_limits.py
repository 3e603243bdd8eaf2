"""Per-project policies enforced inside the gate's single round trip: ingest keys, rate limits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.stack import guide_payload
from tests.stack import ApiHarness, settings_for


def test_ingest_key_required_once_set(sqlite_api: ApiHarness) -> None:
    api = sqlite_api
    assert api.report().status_code == 200
    put = api.client.put("/api/v1/projects/rtc_backend", json={"ingest_key": "k-123"})
    assert put.status_code == 200 and put.json()["has_ingest_key"] is True
    assert "ingest_key" not in put.json()
    missing = api.report()
    assert missing.status_code == 401 and "ingest key" in missing.json()["detail"]
    wrong = api.client.post(
        "/api/v1/logs/report", json=guide_payload(), headers={"X-LogCenter-Key": "nope"}
    )
    assert wrong.status_code == 403
    by_header = api.client.post(
        "/api/v1/logs/report", json=guide_payload(), headers={"X-LogCenter-Key": "k-123"}
    )
    assert by_header.status_code == 200
    # sendBeacon cannot set headers: the key may come in the query string.
    by_query = api.client.post("/api/v1/logs/report?key=k-123", json=guide_payload())
    assert by_query.json()["message"] == "Log deduplicated"
    # Other projects are unaffected; clearing the key lifts the requirement.
    assert api.report(project_id="other").status_code == 200
    api.client.put("/api/v1/projects/rtc_backend", json={"ingest_key": ""})
    assert api.report().status_code == 200


def test_ingest_keys_survive_a_redis_flush(sqlite_api: ApiHarness) -> None:
    api = sqlite_api
    api.client.put("/api/v1/projects/rtc_backend", json={"ingest_key": "k-9"})
    api.redis.flushall()
    assert api.report().status_code == 401
    ok = api.client.post("/api/v1/logs/report?key=k-9", json=guide_payload())
    assert ok.status_code == 200


@pytest.fixture
def limited(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[ApiHarness]:
    settings = settings_for(
        tmp_path,
        redis_url,
        redis_prefix,
        store_url=f"sqlite:///{tmp_path / 'lc.db'}",
        rate_limit_per_second=0.5,
        rate_limit_burst=3,
    )
    with ApiHarness(settings) as harness:
        yield harness


def test_rate_limit_refuses_repeats_but_never_new_fingerprints(limited: ApiHarness) -> None:
    codes = [limited.report().status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = limited.report()
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    # New fingerprints over the limit are admitted (and counted), so no new bug is lost.
    fresh = [limited.report(line_number=n).json() for n in range(100, 103)]
    assert [r["message"] for r in fresh] == ["Log reported"] * 3
    # Another project has its own bucket.
    assert limited.report(project_id="rtc_web").status_code == 200
    metrics = limited.client.get("/metrics").text
    assert 'logcenter_rate_limited_total{kind="first_occurrence"} 3' in metrics
    assert 'logcenter_rate_limited_total{kind="repeat"} 3' in metrics
    limited.drain()
    assert limited.client.get("/api/v1/bugs").json()["total"] == 5


def test_a_sentry_sdk_over_the_limit_is_told_when_to_come_back(limited: ApiHarness) -> None:
    # The ingest key guards the report endpoint only: the DSN key stands in for it here.
    project = limited.client.put("/api/v1/projects/limited", json={"ingest_key": "k-1"}).json()
    key = {"sentry_key": project["public_key"]}
    url = f"/api/{project['id']}/store/"
    frame = {"filename": "app/jobs.py", "lineno": 7}
    codes = []
    for _ in range(4):
        event = {"event_id": uuid.uuid4().hex, "exception": [
            {"type": "JobError", "value": "x", "stacktrace": {"frames": [frame]}}]}  # fmt: skip
        codes.append(limited.client.post(url, params=key, json=event).status_code)
    assert codes == [200, 200, 200, 429]
    for _ in range(2):  # refused, so its event_id is not remembered: a retry is refused again
        refused = limited.client.post(url, params=key, json=event)
        assert refused.status_code == 429
        seconds = int(refused.headers["retry-after"])
        assert refused.headers["x-sentry-rate-limits"] == f"{seconds}:error:project"
        assert seconds >= 1
