"""A repair job that ends without finishing its own bookkeeping still leaves the bug FIX_FAILED.

Three ways a job can end that way, and where each is caught:
- the job raised or hit its RQ timeout: RQ calls `on_job_failure` (the job's failure callback)
  in the work horse;
- the work horse was killed (OOM killer, SIGKILL): the RQ worker's work-horse-killed handler
  calls `record_death` (see `agent.worker`);
- the whole worker died: RQ 3 keeps each execution in the queue's StartedJobRegistry with a
  heartbeat deadline; `StartedJobRegistry.cleanup()` (run by every worker's maintenance and by
  the pool supervisor, which also does it at once for a child it saw die) fails expired jobs with
  `AbandonedJobError` and calls `on_job_failure`.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from agent.sandbox import Redactor, secret_values
from agent.settings import current_settings
from client.http import ApiClient, ApiError
from config.settings import Settings
from store.models import RepairReportIn
from store.vocabulary import IN_PROGRESS, Status

log = logging.getLogger(__name__)
WORKER_DIED = "worker died"
#: job.meta key where the supervisor says why it gave up a job (e.g. the pool was stopped).
ABANDON_REASON = "abandon_reason"


def failure_reason(
    job: Job, exc_type: type[BaseException] | None, exc: BaseException | None
) -> str:
    if exc_type is not None and issubclass(exc_type, AbandonedJobError):
        given = job.meta.get(ABANDON_REASON)
        return str(given) if given else f"{WORKER_DIED}: the worker running the repair stopped"
    if exc_type is not None and issubclass(exc_type, JobTimeoutException):
        return f"repair job timeout: the repair ran longer than {job.timeout}s and was stopped"
    name = exc_type.__name__ if exc_type else "error"
    return f"repair crashed: {name}: {str(exc).splitlines()[0][:300] if exc and str(exc) else ''}"


def on_job_failure(
    job: Job,
    connection: Any,
    exc_type: type[BaseException] | None = None,
    exc: BaseException | None = None,
    tb: TracebackType | None = None,
) -> None:
    """RQ failure callback of every repair job."""
    record_death(int(job.args[0]), failure_reason(job, exc_type, exc), current_settings())


def record_death(bug_id: int, reason: str, settings: Settings) -> None:
    """Move a bug whose repair is still in progress to FIX_FAILED with `reason`, and say so in a
    report. A bug the job already finished with (FIXED, FIX_FAILED, ...) is left alone; from
    the others the move is one step, so the history shows only what happened."""
    reason = Redactor(secret_values(settings))(reason)
    try:
        with ApiClient(settings.api_url, settings.admin_token) as api:
            bug = api.get_bug(bug_id)
            if bug.status not in IN_PROGRESS | {Status.NEW}:
                return
            api.post_report(
                RepairReportIn(
                    bug_id=bug_id,
                    phase=bug.status,
                    failure_reason=reason,
                    passed=False,
                    analysis="The repair job ended before it could record a result.",
                )
            )
            api.set_status(bug_id, "FIX_FAILED", failure_reason=reason)
            log.warning("bug %s: FIX_FAILED (%s)", bug_id, reason)
    except ApiError as exc:
        log.error("bug %s: could not record failure %r: %s", bug_id, reason, exc)
