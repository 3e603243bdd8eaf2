from __future__ import annotations

import httpx
import pytest
import redis


def test_redis_server_answers(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert client.set("probe", "1", nx=True) in (True, None)
    assert client.get("probe") == b"1"


@pytest.mark.es
def test_elasticsearch_node_is_green(es_url: str) -> None:
    health = httpx.get(f"{es_url}/_cluster/health").json()
    assert health["status"] in ("green", "yellow")
    nodes = httpx.get(f"{es_url}/_nodes/_local", params={"filter_path": "nodes.*.version"}).json()
    assert [n["version"][:2] for n in nodes["nodes"].values()] == ["9."]
