"""A real stack (API + indexer processes), seeded data and the dashboard as its own process; the
headless Chromium (`browser`, `screenshot`) comes from tests/conftest.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bench.services import RedisServer
from bench.stack import RunningStack, running_stack, stack_env
from tests.dashboards.seed import Seeded, seed

ADMIN_TOKEN = "dashboard-test-token"


@pytest.fixture(scope="module")
def stack(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    env = stack_env(redis_server.url, f"t{uuid.uuid4().hex[:10]}:", admin_token=ADMIN_TOKEN)
    with running_stack(tmp_path_factory.mktemp("stack"), env) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(stack: RunningStack) -> Seeded:
    return seed(stack.client, ADMIN_TOKEN)


@pytest.fixture(scope="module")
def dashboard(stack: RunningStack) -> str:
    """`logcenter dashboard` as its own process, on the stack's API URL and admin token."""
    return stack.start_dashboard()
