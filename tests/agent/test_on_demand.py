"""Repair workers cost no memory while nothing is to repair: a waiting worker never loads the
repair's heavy libraries, and an on-demand pool runs no worker until a job waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from agent.queue import queue_name, repair_queue, worker_capabilities
from bench.footprint import pss_bytes
from bench.services import wait_for
from tests.stack import ROOT

HEAVY = ("litellm", "git", "agent.repair", "agent.llm", "openai")
#: A waiting worker holds ~45 MiB; with litellm, git and the repair code loaded it held ~190.
WAITING_WORKER_MIB = 100


def test_up_and_the_worker_module_import_nothing_heavy() -> None:
    code = (
        "import sys, agent.worker, config.stack, config.cli\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def _env(redis_url: str, prefix: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")}
    env.update(
        LOGCENTER_REDIS_URL=redis_url,
        LOGCENTER_REDIS_PREFIX=prefix,
        LOGCENTER_WORKER_HEARTBEAT_SECONDS="1",
        LOGCENTER_DATA_DIR=str(data_dir),
    )
    return env


def _pool(env: dict[str, str], log: Path, *options: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent", "--grace", "2", *options],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(pool: subprocess.Popen[bytes]) -> None:
    pool.send_signal(signal.SIGTERM)
    assert pool.wait(30) == 0


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


def _our_workers(redis: Redis, prefix: str) -> list[Worker]:
    return [w for w in Worker.all(connection=redis) if queue_name(prefix) in w.queue_names()]


def test_a_waiting_worker_stays_small(
    redis_url: str, redis: Redis, redis_prefix: str, tmp_path: Path
) -> None:
    pool = _pool(_env(redis_url, redis_prefix, tmp_path), tmp_path / "pool.log", "--workers", "1")
    try:
        wait_for(lambda: _our_workers(redis, redis_prefix), 30, "the RQ worker")
        (worker,) = _our_workers(redis, redis_prefix)
        assert worker.pid is not None
        pss = pss_bytes(worker.pid)
        assert pss is not None and pss < WAITING_WORKER_MIB * 1024 * 1024, pss
    finally:
        _stop(pool)


def test_an_on_demand_pool_starts_a_worker_for_a_job_and_lets_it_go(
    redis_url: str, redis: Redis, redis_prefix: str, tmp_path: Path
) -> None:
    env = _env(redis_url, redis_prefix, tmp_path)
    pool = _pool(env, tmp_path / "pool.log", "--workers", "2", "--on-demand")
    try:
        wait_for(lambda: worker_capabilities(redis, redis_prefix), 30, "the pool's heartbeat")
        assert worker_capabilities(redis, redis_prefix)[0].workers == 2  # what it would start
        assert _our_workers(redis, redis_prefix) == []  # and none runs while nothing waits

        job = repair_queue(redis, redis_prefix).enqueue("os.getpid")
        wait_for(
            lambda: Job.fetch(job.id, connection=redis, serializer=JSONSerializer).is_finished,
            60,
            "the job, run by a worker started for it",
        )
        done = Job.fetch(job.id, connection=redis, serializer=JSONSerializer)
        assert isinstance(done.return_value(), int) and done.return_value() != pool.pid
        wait_for(lambda: not _our_workers(redis, redis_prefix), 30, "the worker to go")
        assert pool.poll() is None  # the pool stays, and still offers its workers
        assert worker_capabilities(redis, redis_prefix)[0].workers == 2
    finally:
        _stop(pool)
