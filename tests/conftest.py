"""Session-wide real services and per-test isolation (key prefixes, index prefixes, tmp dirs)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import ElasticsearchNode, RedisServer

ES_VERSION = os.environ.get("LOGCENTER_TEST_ES_VERSION", "9.2.0")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of this test's own, so tests never see each other's keys."""
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("LOGCENTER_TEST_ES_URL"):
        yield os.environ["LOGCENTER_TEST_ES_URL"]
        return
    # Not under pytest's tmp dir: that is private to root, and the node runs as its own user.
    workdir = Path(tempfile.mkdtemp(prefix="logcenter-es-"))
    node = ElasticsearchNode(workdir, ES_VERSION).start()
    yield node.url
    node.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def es_prefix() -> str:
    """An index prefix of this test's own."""
    return f"t{uuid.uuid4().hex[:10]}-"
