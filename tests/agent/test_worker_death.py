"""A worker (or its work horse) killed mid-repair never leaves the bug stuck: FIX_FAILED
"worker died", and the repair can be queued again. Also: the pool stops cleanly."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from agent.queue import enqueue_repair, repair_state
from bench.services import RedisServer, wait_for
from bench.stack import RunningStack, stack_env
from config.settings import Settings
from tests.agent import replies
from tests.agent.llm_server import LLMServer, Reply
from tests.agent.scenario import ADMIN_TOKEN, Scenario, WorkerPool, worker_env
from tests.repos import Repos

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def death_stack(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningStack, str, Path]]:
    workdir = tmp_path_factory.mktemp("death")
    url = f"{redis_server.url.rsplit('/', 1)[0]}/5"
    # Repairs here are queued by hand, one scenario at a time: none by themselves.
    env = stack_env(url, "death:", admin_token=ADMIN_TOKEN, auto_repair="false")
    stack = RunningStack(workdir, env).start()
    try:
        yield stack, url, workdir
    finally:
        stack.stop()
        Redis.from_url(url).flushdb()


@pytest.fixture
def case(
    death_stack: tuple[RunningStack, str, Path], llm: LLMServer
) -> Iterator[tuple[Scenario, WorkerPool]]:
    stack, url, workdir = death_stack
    # A patient model: the test kills the worker while it waits for an answer.
    pool = WorkerPool(workdir, worker_env(stack, url, llm, workdir, llm_timeout="90"))
    scenario = Scenario(stack, url)
    yield scenario, pool
    scenario.close()
    pool.stop()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().split(b") ", 1)[1][:1] != b"Z"
    except FileNotFoundError:
        return False


def _start(scenario: Scenario, repos: Repos, llm: LLMServer, status: str, requests: int) -> None:
    scenario.report()
    scenario.configure(local_path=str(repos.checkout))
    scenario.enqueue()
    scenario.wait(lambda b: b["status"] == status, f"bug in {status}", 60)
    wait_for(lambda: len(llm.state.requests) >= requests, 30, "the model to be asked")


def _busy_worker(pool: WorkerPool) -> tuple[int, int]:
    """(worker pid, work horse pid) of the worker running a repair."""
    for worker in pool.workers():
        horse = pool.redis.hget(worker.key, "horse_pid")
        if worker.get_current_job_id() and horse and _alive(int(horse)):
            return worker.pid, int(horse)  # type: ignore[return-value]
    raise AssertionError("no busy worker")


def test_worker_killed_while_fixing_ends_fix_failed_and_can_retry(
    case: tuple[Scenario, WorkerPool], repos: Repos, llm: LLMServer
) -> None:
    scenario, pool = case
    llm.state.script(replies.REPRODUCTION, Reply(replies.RIGHT_FIX, delay=120))
    _start(scenario, repos, llm, "FIXING", 2)
    worker_pid, horse_pid = _busy_worker(pool)
    os.kill(worker_pid, signal.SIGKILL)
    bug = scenario.wait(lambda b: b["status"] == "FIX_FAILED", "FIX_FAILED", 30)
    assert bug["failure_reason"] == "worker died: worker process exited with status -9"
    assert not _alive(horse_pid)  # the orphaned work horse was stopped too
    assert repair_state(scenario.redis, scenario.bug_id) == "failed"
    assert scenario.reports()[-1]["failure_reason"] == bug["failure_reason"]
    # The pool replaced the worker; a new repair of the same bug runs to the end.
    llm.state.script(replies.REPRODUCTION, replies.RIGHT_FIX)
    settings = Settings(repair_job_timeout=300, _env_file=None)  # type: ignore[call-arg]
    assert enqueue_repair(scenario.redis, scenario.bug_id, settings) is not None
    assert scenario.wait_final(90)["status"] == "FIXED"


def test_work_horse_killed_while_verifying_ends_fix_failed(
    case: tuple[Scenario, WorkerPool], repos: Repos, llm: LLMServer
) -> None:
    scenario, pool = case
    llm.state.script(Reply(replies.REPRODUCTION, delay=120))
    _start(scenario, repos, llm, "VERIFYING", 1)
    _, horse_pid = _busy_worker(pool)
    os.kill(horse_pid, signal.SIGKILL)
    bug = scenario.wait(lambda b: b["status"] == "FIX_FAILED", "FIX_FAILED", 30)
    assert bug["failure_reason"] == "worker died: the repair process was killed by signal 9"
    history = [(h["from"], h["to"]) for h in bug["status_history"]]
    assert history == [("NEW", "VERIFYING"), ("VERIFYING", "FIX_FAILED")]  # no walk through


def test_pool_stops_cleanly_and_fails_the_repair_it_interrupts(
    case: tuple[Scenario, WorkerPool], repos: Repos, llm: LLMServer
) -> None:
    scenario, pool = case
    llm.state.script(Reply(replies.REPRODUCTION, delay=120))
    _start(scenario, repos, llm, "VERIFYING", 1)
    worker_pid, horse_pid = _busy_worker(pool)
    assert pool.stop() == 0
    assert not _alive(worker_pid) and not _alive(horse_pid)
    bug = scenario.bug()
    assert bug["status"] == "FIX_FAILED"
    assert bug["failure_reason"] == "worker stopped: the worker pool was shut down mid-repair"
