"""Exports stream every hit of a search, NDJSON or CSV, with the search's own query and filters,
bounded by LOGCENTER_EXPORT_MAX_ROWS; 100,000 occurrences stream in constant memory."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.seed import Spec, seed
from bench.stack import running_stack, stack_env
from store import open_store
from tests.ingest.test_bugs_api import seed as report
from tests.stack import ApiHarness, settings_for


def anonymous_bytes(pid: int) -> int:
    """The process's own memory (heap and stacks): what an export that buffered would grow.
    Its PSS also counts pages of the SQLite file it reads through a memory map (page cache)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no RssAnon for {pid}")


def lines(reply: Any) -> list[dict[str, Any]]:
    assert reply.status_code == 200, reply.text
    return [json.loads(line) for line in reply.text.splitlines()]


def test_bug_export_is_the_search_in_full(api: ApiHarness) -> None:
    report(api, 60)
    params = {"q": "NOT error_type:KeyError", "project_id": "rtc_web", "sort": "id"}
    searched = api.client.get("/api/v1/bugs", params={**params, "size": 500}).json()["items"]
    reply = api.client.get("/api/v1/bugs/export", params=params)
    assert reply.headers["content-type"] == "application/x-ndjson"
    exported = lines(reply)
    assert len(exported) == 15 and exported == [
        {k: v for k, v in bug.items() if k != "revision"} for bug in searched
    ]
    limited = lines(api.client.get("/api/v1/bugs/export", params={**params, "limit": 4}))
    assert [b["id"] for b in limited] == [b["id"] for b in searched[:4]]

    as_csv = api.client.get("/api/v1/bugs/export", params={**params, "format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="bugs.csv"' in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(r["id"]) for r in rows] == [b["id"] for b in searched]
    assert json.loads(rows[0]["stack_trace"]) == searched[0]["stack_trace"]
    assert rows[0]["line_number"] == str(searched[0]["line_number"])


def test_event_export_takes_discovers_query_window_and_filters(api: ApiHarness) -> None:
    report(api, 40)
    window = {"from": "2026-11-03T00:00:00", "to": "2026-11-15T00:00:00Z"}
    body = {"q": "request", "filters": {"level": ["ERROR", "WARNING"]}, "size": 500, **window}
    searched = api.client.post("/api/v1/events/search", json=body).json()["items"]
    params = {"q": "request", "level": ["ERROR", "WARNING"], **window}
    exported = lines(api.client.get("/api/v1/events/export", params=params))
    assert 0 < len(exported) < 40 and exported == searched
    oldest_first = lines(api.client.get("/api/v1/events/export", params={**params,
                                                                          "sort": "timestamp"}))
    assert oldest_first == searched[::-1]
    bad = api.client.get("/api/v1/events/export", params={"from": "2026-11-15", "to": "2026-11-03"})
    assert bad.status_code == 422 and "from" in bad.text
    assert api.client.get("/api/v1/events/export", params={"q": "nosuchfield:x"}).status_code == 400


def test_the_row_ceiling_bounds_every_export(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    settings = settings_for(tmp_path, redis_url, redis_prefix, export_max_rows=7,
                            store_url=f"sqlite:///{tmp_path / 'logcenter.db'}")
    with ApiHarness(settings) as api:
        report(api, 12)
        assert len(lines(api.client.get("/api/v1/events/export"))) == 7
        assert len(lines(api.client.get("/api/v1/bugs/export", params={"limit": 100}))) == 7
        assert len(lines(api.client.get("/api/v1/bugs/export", params={"limit": 3}))) == 3


@pytest.mark.slow
def test_100_000_occurrences_stream_in_constant_memory(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    db = tmp_path / "logcenter.db"
    store = open_store(f"sqlite:///{db}")
    store.init()
    seed(store, Spec(events=100_000, bugs=2_000, projects=20, end=datetime.now(UTC)),
         progress=False)
    store.close()
    env = stack_env(redis_url, redis_prefix, store_url=f"sqlite:///{db}")
    with running_stack(tmp_path / "s", env, indexers=0) as stack:
        pid = stack.procs["api"].pid
        stack.client.get("/api/v1/events/export", params={"limit": 1000})  # warm the code paths
        before = anonymous_bytes(pid)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], anonymous_bytes(pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        count, size, last = 0, 0, "9999"
        try:
            with httpx.stream("GET", f"{stack.api_url}/api/v1/events/export", timeout=120) as r:
                assert r.status_code == 200
                for line in r.iter_lines():
                    event = json.loads(line)
                    assert event["timestamp"] <= last  # newest first, as the search sorts
                    last = event["timestamp"]
                    count += 1
                    size += len(line)
        finally:
            done.set()
            sampler.join()
    assert count == 100_000
    grown = (peak[0] - before) / 2**20
    # The export is ~size bytes (hundreds of MiB); the API grows by a page's worth.
    assert size > 100 * 2**20 and grown < 40, f"{size / 2**20:.0f} MiB exported, grew {grown:.1f}"
