"""The scale-out topology without Docker: the same commands compose runs, as OS processes.

Two API processes, two indexers and two repair workers share a real redis-server and a real
Elasticsearch node; 20,000 reports over 500 fingerprints from concurrent clients to both APIs
must land as exactly 500 bugs and 20,000 events, also when an indexer is SIGKILLed mid-run.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.services import free_port, wait_for
from bench.stack import RunningStack, guide_payload
from store import open_store
from store.base import Store
from store.search import BugQuery, EventQuery
from tests.conftest import drop_indices

pytestmark = [pytest.mark.es, pytest.mark.slow]

FINGERPRINTS = 500


class Topology(RunningStack):
    """Two API processes, two indexers and a pool of two repair workers."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(workdir, env)
        self.api_urls: list[str] = []

    def start(self, *, indexers: int = 2, api_workers: int = 1) -> Topology:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for n in range(2):
            port = free_port()
            self.api_urls.append(f"http://127.0.0.1:{port}")
            self.spawn(f"api{n}", "api", "--host", "127.0.0.1", "--port", str(port))
        self.env["LOGCENTER_API_URL"] = self.api_urls[0]
        for n in range(indexers):
            self.spawn(f"indexer{n}", "indexer")
        self.spawn("workers", "worker", "--workers", "2")
        for url in self.api_urls:
            wait_for(
                lambda u=url: httpx.get(f"{u}/readyz", timeout=2).status_code == 200,  # type: ignore[misc]
                90,
                f"API {url}",
            )
        return self


@pytest.fixture
def topology(
    tmp_path: Path, es_url: str, es_prefix: str, redis_prefix: str, redis_url: str
) -> Iterator[Topology]:
    env = {
        "LOGCENTER_STORE_URL": es_url,
        "LOGCENTER_ES_INDEX_PREFIX": es_prefix,
        "LOGCENTER_REDIS_URL": redis_url,
        "LOGCENTER_REDIS_PREFIX": redis_prefix,
        "LOGCENTER_INDEXER_CLAIM_IDLE_MS": "2000",
        "LOGCENTER_INDEXER_BLOCK_MS": "100",
    }
    topo = Topology(tmp_path, env).start()
    yield topo
    topo.stop()
    drop_indices(es_url, es_prefix)


def payload(n: int, round_: int) -> dict[str, Any]:
    fp = n % FINGERPRINTS
    return guide_payload(
        project_id=f"svc{fp % 7}", line_number=fp, message=f"round {round_} failure {fp}"
    )


async def send(urls: list[str], payloads: list[dict[str, Any]], clients: int = 48) -> int:
    """Post from `clients` concurrent clients, alternating API processes; return 200s."""
    ok = 0
    todo = iter(payloads)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as c:

        async def client(url: str) -> None:
            nonlocal ok
            for p in todo:
                reply = await c.post(f"{url}/api/v1/logs/report", json=p)
                assert reply.status_code == 200, reply.text
                ok += 1

        await asyncio.gather(
            *(client(u) for u, _ in zip(itertools.cycle(urls), range(clients), strict=False))
        )
    return ok


def totals(store: Store) -> tuple[int, int, int]:
    bugs = store.search_bugs(BugQuery(size=500, facets=()))
    counted = sum(b.count for b in bugs.items)
    events = store.search_events(EventQuery(size=0)).total
    return bugs.total, counted, events


def wait_totals(store: Store, expected: tuple[int, int, int], timeout: float = 180) -> None:
    last: list[tuple[int, int, int]] = []

    def reached() -> bool:
        last[:] = [totals(store)]
        return last[0] == expected

    try:
        wait_for(reached, timeout, f"totals {expected}", 0.5)
    except TimeoutError:
        raise AssertionError(
            f"store holds {last} (bugs, summed counts, events), expected {expected}"
        ) from None


def test_scale_out_exact_counts_and_indexer_crash(
    topology: Topology, es_url: str, es_prefix: str
) -> None:
    store = open_store(es_url, index_prefix=es_prefix)
    sent = asyncio.run(send(topology.api_urls, [payload(n, 1) for n in range(20_000)]))
    assert sent == 20_000
    wait_totals(store, (FINGERPRINTS, 20_000, 20_000))
    fingerprints = {b.fingerprint for b in store.search_bugs(BugQuery(size=500)).items}
    assert len(fingerprints) == FINGERPRINTS  # no duplicate bug

    async def second_round() -> int:
        task = asyncio.create_task(send(topology.api_urls, [payload(n, 2) for n in range(20_000)]))
        await asyncio.sleep(3)
        topology.kill("indexer0")  # mid-run, with batches in flight
        return await task

    assert asyncio.run(second_round()) == 20_000
    wait_totals(store, (FINGERPRINTS, 40_000, 40_000))
    counts = {b.count for b in store.search_bugs(BugQuery(size=500)).items}
    assert counts == {80}
    store.close()
