"""Enqueueing repairs: queue `repairs`, JSON serializer, one job per bug (`repair-<bug id>`).

The API calls `enqueue_repair` and `repair_state`; they import nothing heavy (the job function is
named by its dotted path, so litellm and git are only loaded by workers).
"""

from __future__ import annotations

import re

from redis import Redis
from rq import Callback, Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

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
