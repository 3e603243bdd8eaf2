"""Fixtures of the hardening suite: API harnesses with security settings, private services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from bench.services import RedisServer
from tests.stack import ApiHarness, settings_for

ADMIN_TOKEN = "hardening-admin-5f3a9c"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own: for tests that queue repairs (RQ keys are global)
    or stop Redis."""
    server = RedisServer(tmp_path / "private-redis", appendonly=False).start()
    yield server
    server.stop()


@pytest.fixture
def make_api(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> Iterator[Callable[..., ApiHarness]]:
    """Build in-process APIs on SQLite with extra settings (`admin_token=...`, `scrub_keys=...`)."""
    numbers = count()
    with ExitStack() as stack:

        def make(redis: str | None = None, **settings: Any) -> ApiHarness:
            n = next(numbers)
            workdir = tmp_path / f"api{n}"
            workdir.mkdir()
            options = settings_for(
                workdir,
                redis or redis_url,
                f"{redis_prefix}{n}:",
                store_url=f"sqlite:///{workdir / 'logcenter.db'}",
                **settings,
            )
            return stack.enter_context(ApiHarness(options))

        yield make
