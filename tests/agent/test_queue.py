from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

import pytest
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from agent.queue import QUEUE_NAME, enqueue_repair, repair_queue, repair_state
from config.settings import Settings


@pytest.fixture
def conn(agent_redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(agent_redis_url)  # plain, decode_responses=False, as the API has it
    yield client
    client.close()


def _settings() -> Settings:
    return Settings(repair_job_timeout=321, _env_file=None)  # type: ignore[call-arg]


def test_one_job_per_bug_with_a_deterministic_id(conn: Redis) -> None:
    assert repair_state(conn, 41) is None
    assert enqueue_repair(conn, 41, _settings()) == "repair-41"
    assert enqueue_repair(conn, 41, _settings()) is None
    assert repair_state(conn, 41) == "queued"
    assert enqueue_repair(conn, 42, _settings()) == "repair-42"
    queue = repair_queue(conn)
    assert queue.name == QUEUE_NAME and queue.job_ids == ["repair-41", "repair-42"]


def test_job_is_stored_as_json_with_the_configured_timeout(conn: Redis) -> None:
    enqueue_repair(conn, 43, _settings())
    job = Job.fetch("repair-43", connection=conn, serializer=JSONSerializer)
    assert job.func_name == "agent.repair.repair_bug" and job.args == [43]
    assert job.timeout == 321
    assert job.failure_callback is not None
    raw = conn.hget(job.key, "data")
    assert isinstance(raw, bytes)
    assert json.loads(zlib.decompress(raw))[0] == "agent.repair.repair_bug"  # JSON, not pickle


def test_a_finished_or_failed_repair_can_be_queued_again(conn: Redis) -> None:
    enqueue_repair(conn, 44, _settings())
    job = Job.fetch("repair-44", connection=conn, serializer=JSONSerializer)
    repair_queue(conn).remove(job)
    job.set_status("failed")  # type: ignore[arg-type]
    assert repair_state(conn, 44) == "failed"
    assert enqueue_repair(conn, 44, _settings()) == "repair-44"
    assert repair_state(conn, 44) == "queued"
