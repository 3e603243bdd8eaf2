"""An Elasticsearch node past its flood-stage disk watermark: the node makes our indices
read-only, the indexer backs off with the reports still in the stream, /readyz names the cause,
and once the node has room again everything indexed is there, counted once.

The watermarks are set (as absolute free space) so that the node's own disk monitor finds its
disk past flood stage and blocks the indices itself; nothing is faked on our side."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from store.elasticsearch.store import FLOOD_BLOCK
from store.errors import Unavailable
from tests.conftest import drop_indices
from tests.stack import ApiHarness, settings_for

pytestmark = [pytest.mark.es, pytest.mark.slow]

_WATERMARKS = ("low", "high", "flood_stage")


def _watermarks(es: Elasticsearch, free: str | None, monitor: bool = True) -> None:
    """Watermarks at `free` (None: the defaults); `monitor` turns the node's disk monitor on
    (the test node starts with it off) and has it read the disk every 10 s (the least)."""
    settings: dict[str, Any] = {
        f"cluster.routing.allocation.disk.watermark.{name}": free for name in _WATERMARKS
    }
    settings["cluster.routing.allocation.disk.threshold_enabled"] = True if monitor else None
    settings["cluster.info.update.interval"] = "10s" if monitor else None
    es.cluster.put_settings(transient=settings)


def _blocked(es: Elasticsearch, prefix: str) -> list[str]:
    """The indices under `prefix` that carry the flood-stage block."""
    found = es.indices.get_settings(index=f"{prefix}*", name=FLOOD_BLOCK, flat_settings=True)
    return [i for i, body in found.items() if body["settings"].get(FLOOD_BLOCK) == "true"]


def _until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def flood(es_url: str) -> Iterator[Elasticsearch]:
    es = Elasticsearch(es_url)
    yield es
    _watermarks(es, None, monitor=False)  # whatever happened, the node gets its settings back
    es.close()


def test_flood_stage_holds_reports_in_the_stream_until_the_node_has_room(
    tmp_path: Path, redis_url: str, redis_prefix: str, es_url: str, es_prefix: str,
    flood: Elasticsearch,
) -> None:  # fmt: skip
    settings = settings_for(
        tmp_path, redis_url, redis_prefix, store_url=es_url, es_index_prefix=es_prefix
    )
    try:
        with ApiHarness(settings) as api:
            api.indexer.block_check_seconds = 0  # ask before every batch
            bug_id = api.report().json()["id"]
            api.drain()
            assert api.client.get("/readyz").json()["disk"] == "ok"

            _watermarks(flood, "1pb")  # less free than that: past flood stage
            _until(lambda: _blocked(flood, es_prefix), "the node's flood-stage block")
            assert api.report().status_code == 200  # accepted: it waits in the stream
            with pytest.raises(Unavailable, match="flood-stage"):
                api.indexer.run_once()
            assert api.redis.xlen(api.indexer.keys.stream) == 1
            ready = api.client.get("/readyz")
            assert ready.status_code == 503
            cause = ready.json()["disk"]
            assert "flood-stage" in cause and min(_blocked(flood, es_prefix)) in cause

            _watermarks(flood, None)
            _until(lambda: not _blocked(flood, es_prefix), "the node lifting its block")
            api.drain()
            assert api.client.get(f"/api/v1/bugs/{bug_id}").json()["count"] == 2
            assert api.client.get("/readyz").json()["disk"] == "ok"
    finally:
        drop_indices(es_url, es_prefix)
