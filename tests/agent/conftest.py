"""Fixtures for the repair agent: a Redis database of the agent tests' own. The calc repositories
(`repos`) and the scripted LLM server (`llm`) are in tests/conftest.py, shared with the
end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis

#: A Redis database of the agent tests' own: RQ's queue names are global within a database.
AGENT_DB = 7


@pytest.fixture
def agent_redis_url(redis_url: str) -> Iterator[str]:
    url = f"{redis_url.rsplit('/', 1)[0]}/{AGENT_DB}"
    client = Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
