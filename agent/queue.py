"""Enqueueing repairs: queue `repairs`, JSON serializer, one job per bug (`repair-<bug id>`);
and the repair workers' heartbeats: who can repair now.

The API calls `enqueue_repair` and `repair_state`; they import nothing heavy (the job function is
named by its dotted path, so litellm and git are only loaded by workers). Worker pools publish
what they can do (`publish_capability`); the API and the indexer read it back
(`worker_capabilities`, `repair_off_reason`) before they queue a repair nobody asked for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from enum import StrEnum

from pydantic import ValidationError
from redis import Redis
from rq import Callback, Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from client.workers import WorkerCapability
from config.settings import Settings

QUEUE_NAME = "repairs"
JOB_FUNCTION = "agent.repair.repair_bug"
FAILURE_CALLBACK = "agent.failure.on_job_failure"
#: Job states in which a repair is waiting or running: a second one is not queued.
ACTIVE_STATES = frozenset({"created", "queued", "started", "deferred", "scheduled", "rate_limited"})
RESULT_TTL = 7 * 24 * 3600


DEFAULT_PREFIX = "lc:"


def queue_name(prefix: str = DEFAULT_PREFIX) -> str:
    """`repairs` for the default key prefix; installs sharing one Redis under other key
    prefixes get queues (and job ids) of their own, so no worker takes another's job."""
    return QUEUE_NAME if prefix == DEFAULT_PREFIX else f"{prefix}{QUEUE_NAME}"


def job_id(bug_id: int, prefix: str = DEFAULT_PREFIX) -> str:
    # RQ job ids take letters, digits, "_" and "-" only.
    own = "" if prefix == DEFAULT_PREFIX else re.sub(r"[^A-Za-z0-9_-]", "-", prefix)
    return f"{own}repair-{bug_id}"


def repair_queue(connection: Redis, prefix: str = DEFAULT_PREFIX) -> Queue:
    return Queue(queue_name(prefix), connection=connection, serializer=JSONSerializer)


def _fetch(connection: Redis, bug_id: int, prefix: str) -> Job | None:
    try:
        return Job.fetch(job_id(bug_id, prefix), connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return None


def repair_state(connection: Redis, bug_id: int, prefix: str = DEFAULT_PREFIX) -> str | None:
    """The RQ state of the bug's repair job (`queued`, `started`, `failed`...) or None."""
    job = _fetch(connection, bug_id, prefix)
    if job is None:
        return None
    try:
        status = job.get_status()
    except NoSuchJobError:
        return None
    return status.value if status is not None else None


def enqueue_repair(connection: Redis, bug_id: int, settings: Settings) -> str | None:
    """Queue a repair of `bug_id`; None when one is already queued or running for it.

    A finished or failed earlier job of the same bug is replaced, so a repair can be retried.
    """
    prefix = settings.redis_prefix
    with connection.lock(f"rq:lock:{job_id(bug_id, prefix)}", timeout=30, blocking_timeout=30):
        if repair_state(connection, bug_id, prefix) in ACTIVE_STATES:
            return None
        old = _fetch(connection, bug_id, prefix)
        if old is not None:
            old.delete()
        try:
            job = repair_queue(connection, prefix).enqueue_call(
                JOB_FUNCTION,
                args=(bug_id,),
                job_id=job_id(bug_id, prefix),
                timeout=settings.repair_job_timeout,
                result_ttl=RESULT_TTL,
                failure_ttl=RESULT_TTL,
                description=f"repair bug {bug_id}",
                on_failure=Callback(FAILURE_CALLBACK),
                unique=True,
            )
        except DuplicateJobError:
            return None
        return job.id


# -- heartbeats -------------------------------------------------------------------------------

#: A heartbeat lives this many periods: a pool that stops beating is forgotten after it.
HEARTBEAT_LIFETIMES = 3


class RepairOff(StrEnum):
    """Why repairs are not queued automatically, said for the person who can change it."""

    DISABLED = "automatic repair is turned off (LOGCENTER_AUTO_REPAIR=false)"
    NO_WORKER = "no repair worker is running"
    NO_LLM = (
        "no LLM is configured on the repair workers: set LOGCENTER_LLM_MODEL and "
        "LOGCENTER_LLM_API_KEY (or LOGCENTER_LLM_API_BASE)"
    )
    NO_SANDBOX = "the repair workers have no working sandbox"


def _pools_key(prefix: str) -> str:
    """A sorted set: pool name -> when its heartbeat lapses (epoch seconds)."""
    return f"{prefix}repair-workers"


def _pool_key(prefix: str, worker: str) -> str:
    """The pool's last heartbeat (JSON), expiring with it."""
    return f"{prefix}repair-worker:{worker}"


def publish_capability(
    connection: Redis, prefix: str, capability: WorkerCapability, lifetime: float
) -> None:
    """Publish a pool's heartbeat for `lifetime` seconds (it is gone unless published again)."""
    now = time.time()
    pipe = connection.pipeline()
    pipe.set(_pool_key(prefix, capability.worker), capability.model_dump_json(), px=_ms(lifetime))
    pipe.zadd(_pools_key(prefix), {capability.worker: now + lifetime})
    pipe.zremrangebyscore(_pools_key(prefix), "-inf", now)
    pipe.execute()


def withdraw_capability(connection: Redis, prefix: str, worker: str) -> None:
    """Forget a pool's heartbeat at once (it is stopping)."""
    pipe = connection.pipeline()
    pipe.delete(_pool_key(prefix, worker))
    pipe.zrem(_pools_key(prefix), worker)
    pipe.execute()


def worker_capabilities(connection: Redis, prefix: str = DEFAULT_PREFIX) -> list[WorkerCapability]:
    """The heartbeats of the pools alive now, by name (two round trips, whatever the keyspace)."""
    now = time.time()
    pipe = connection.pipeline()
    pipe.zrangebyscore(_pools_key(prefix), now, "+inf")
    pipe.zremrangebyscore(_pools_key(prefix), "-inf", now)
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in pipe.execute()[0]]
    if not names:
        return []
    found: list[WorkerCapability] = []
    for raw in connection.mget([_pool_key(prefix, name) for name in names]):
        if raw is None:
            continue  # lapsed since the first read
        try:
            found.append(WorkerCapability.model_validate_json(raw))
        except ValidationError:
            continue  # written by another version of Log Center
    return sorted(found, key=lambda c: c.worker)


def capability_problem(workers: Sequence[WorkerCapability]) -> RepairOff | None:
    """What the running pools lack to repair on their own; None when one of them can."""
    running = [w for w in workers if w.workers > 0]
    if not running:
        return RepairOff.NO_WORKER
    with_llm = [w for w in running if w.llm.ok]
    if not with_llm:
        return RepairOff.NO_LLM
    if not any(w.sandbox.ok for w in with_llm):
        return RepairOff.NO_SANDBOX
    return None


def off_reason(settings: Settings, workers: Sequence[WorkerCapability]) -> RepairOff | None:
    """Why new bugs of a project that follows the install's setting are not repaired on their
    own, given the pools running; None when automatic repair can run."""
    if not settings.auto_repair:
        return RepairOff.DISABLED
    return capability_problem(workers)


def repair_off_reason(connection: Redis, settings: Settings) -> RepairOff | None:
    """`off_reason` for the pools alive now (a RepairOff is its sentence, a str)."""
    return off_reason(settings, worker_capabilities(connection, settings.redis_prefix))


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
