"""Log Center in this process for tests: `ApiHarness` is the API app (real Redis, real store)
plus an in-process indexer whose `drain()` waits until every acknowledged report is in the store.
Fast and deterministic.

The real commands as separate processes (`RunningStack`) are in bench/stack.py, which the
benchmarks share.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from redis import Redis

from bench.stack import guide_payload
from config.settings import Settings
from ingest.app import create_served
from ingest.indexer import Indexer
from store import open_store
from store.base import Store
from store.retention import Retention

#: The repository root (tests run from a clone).
ROOT = Path(__file__).resolve().parent.parent


class ApiHarness:
    """The API in-process on a real Redis and a real store, with a drainable indexer."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_served(settings)
        self.client = TestClient(self.app)
        self.redis = Redis.from_url(settings.redis_url)
        self.store: Store = open_store(settings.resolved_store_url(), **_store_options(settings))
        self.store.init()
        self.indexer = self._indexer()

    def _indexer(self) -> Indexer:
        return Indexer(
            redis=self.redis,
            store=self.store,
            prefix=self.settings.redis_prefix,
            batch_size=self.settings.indexer_batch,
            block_ms=20,
            retention=Retention(self.settings.retention_days, self.settings.retention_max_days),
        )

    def __enter__(self) -> ApiHarness:
        self.client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)
        self.store.close()
        self.redis.close()

    def report(self, payload: dict[str, Any] | None = None, **overrides: Any) -> Any:
        """POST a report (the guide's example with `overrides`); the test client's response."""
        return self.client.post("/api/v1/logs/report", json=payload or guide_payload(**overrides))

    def drain(self, timeout: float = 60.0) -> None:
        self.indexer.drain(timeout)


def _store_options(settings: Settings) -> dict[str, object]:
    if settings.resolved_store_url().startswith("sqlite:"):
        return {}
    return {"index_prefix": settings.es_index_prefix}


def settings_for(tmp_path: Path, redis_url: str, redis_prefix: str, **extra: Any) -> Settings:
    """Settings of a harness API: writes open unless `extra` sets a token (or closes them);
    the tests of authentication give a token of their own."""
    extra.setdefault("anonymous_writes", True)
    return Settings(
        data_dir=tmp_path, redis_url=redis_url, redis_prefix=redis_prefix, _env_file=None, **extra
    )  # type: ignore[call-arg]


def now() -> float:
    return time.time()
