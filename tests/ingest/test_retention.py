"""Retention per project over HTTP: set within the install's maximum, applied by the indexer's
purge (each project by its own retention, a lowered maximum capping older settings), reported
in its return value and in /metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.stack import ApiHarness, settings_for

#: Ages in days of each project's occurrences.
AGES = (1, 10, 40, 70)


def days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, redis_prefix: str) -> object:
    db = f"sqlite:///{tmp_path / 'logcenter.db'}"
    return settings_for(
        tmp_path, redis_url, redis_prefix, store_url=db, retention_days=30, retention_max_days=90
    )


def test_retention_days_is_bounded_by_the_maximum_and_null_resets(settings: object) -> None:
    with ApiHarness(settings) as api:  # type: ignore[arg-type]

        def put(value: object) -> dict[str, object]:
            reply = api.client.put("/api/v1/projects/shop", json={"retention_days": value})
            body: dict[str, object] = reply.json()
            return {"status": reply.status_code, **body}

        made = put(7)
        assert (made["retention_days"], made["effective_retention_days"]) == (7, 7)
        for bad in (91, 0, -3, "a week"):
            refused = put(bad)
            assert refused["status"] == 422, refused
            assert refused["detail"][0]["loc"] == ["body", "retention_days"]  # type: ignore[index]
        assert "1-90" in put(91)["detail"][0]["msg"]  # type: ignore[index]
        assert api.client.get("/api/v1/projects/shop").json()["retention_days"] == 7
        assert put(90)["effective_retention_days"] == 90
        reset = put(None)
        assert (reset["retention_days"], reset["effective_retention_days"]) == (None, 30)
        put(60)
    lowered = settings.model_copy(update={"retention_max_days": 10})  # type: ignore[attr-defined]
    with ApiHarness(lowered) as api:
        listed = api.client.get("/api/v1/projects").json()["projects"]
        assert [(p["retention_days"], p["effective_retention_days"]) for p in listed] == [(60, 10)]


def test_the_indexer_purges_each_project_by_its_own_retention(
    settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    with ApiHarness(settings) as api:  # type: ignore[arg-type]
        assert api.client.put("/api/v1/projects/shop", json={"retention_days": 7}).is_success
        assert api.client.put("/api/v1/projects/docs", json={"retention_days": 60}).is_success
        bugs = {
            project: {api.report(project_id=project, timestamp=days_ago(d)).json()["id"]
                      for d in AGES}
            for project in ("shop", "blog", "docs")
        }  # fmt: skip
        with caplog.at_level(logging.INFO, logger="logcenter.indexer"):
            api.drain()  # the indexer purges after its first batch, then hourly
        assert "dropped 3 occurrences of project shop" in caplog.text
        kept = {}
        for project, ids in bugs.items():
            (bug_id,) = ids
            assert api.client.get(f"/api/v1/bugs/{bug_id}").json()["count"] == len(AGES)
            kept[project] = api.client.get(f"/api/v1/bugs/{bug_id}/events").json()["total"]
        assert kept == {"shop": 1, "blog": 2, "docs": 3}
        assert api.indexer.purge() == {}
        metrics = api.client.get("/metrics").text
        for project, dropped in (("shop", 3), ("blog", 2), ("docs", 1)):
            assert f'logcenter_retention_purged_total{{project="{project}"}} {dropped}' in metrics

    # A maximum lowered later caps the longer settings (and the default) at the next purge.
    lowered = settings.model_copy(update={"retention_max_days": 5})  # type: ignore[attr-defined]
    with ApiHarness(lowered) as api:
        with caplog.at_level(logging.WARNING, logger="logcenter.indexer"):
            assert api.indexer.purge() == {"blog": 1, "docs": 2}
        assert "project docs keeps 60 days" in caplog.text
        metrics = api.client.get("/metrics").text
        assert 'logcenter_retention_purged_total{project="blog"} 3' in metrics
        assert 'logcenter_retention_purged_total{project="docs"} 3' in metrics
