"""Queueing repairs nobody clicked for: the guide's automatic flow.

Once a project has a repository (`repo_url` or `local_path`), its bugs are repaired by
themselves: new bugs and regressions as the indexer stores them, and the open NEW bugs it already
had when its repository is configured for the first time (by a person, or by a report whose
`repo_url` fills an empty one). That happens while the project's `auto_repair` is on (unset
follows LOGCENTER_AUTO_REPAIR) and only while a repair worker that can do the work publishes
its heartbeat (`agent.queue.repair_off_reason`): without one, a job would wait for nobody or end
FIX_FAILED for want of an LLM, so nothing is queued and the API says why.

A person moving a bug to PENDING_FIX asks for its repair: that always queues, like the Repair
button (a worker that cannot do it ends the bug FIX_FAILED saying why).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from redis import Redis

from agent.queue import (
    RepairOff,
    capability_problem,
    enqueue_repair,
    off_reason,
    worker_capabilities,
)
from client.shapes import RepairStatus
from config.settings import Settings
from store.base import Store
from store.models import Bug, Project
from store.search import MAX_PAGE_SIZE, BugQuery
from store.vocabulary import AGENT, Status

log = logging.getLogger("logcenter.autorepair")

#: How long a project's settings and the workers' capability are trusted, in seconds: the
#: indexer asks once in a while, never once per bug.
_CACHE_TTL = 5.0


def wants_repair(project: Project | None, settings: Settings) -> bool:
    """A project whose bugs are repaired without a click: it has a repository, and its own
    auto_repair (or, unset, the install's) is on."""
    if project is None or not (project.repo_url or project.local_path):
        return False
    return settings.auto_repair if project.auto_repair is None else project.auto_repair


class AutoRepair:
    """The automatic flow for one process: the indexer's callbacks and the API's triggers.

    `workers_problem` (what the repair workers lack) and project settings are cached for a few
    seconds, so the indexer's path costs a Redis read now and then, not one per bug."""

    def __init__(self, store: Store, redis: Redis, settings: Settings) -> None:
        self.store = store
        self.redis = redis
        self.settings = settings
        self._problem: tuple[float, RepairOff | None] | None = None
        self._projects: dict[str, tuple[float, Project | None]] = {}

    def workers_problem(self) -> RepairOff | None:
        """What the running repair workers lack to repair on their own (None: nothing)."""
        now = time.monotonic()
        if self._problem is None or self._problem[0] <= now:
            found = worker_capabilities(self.redis, self.settings.redis_prefix)
            self._problem = (now + _CACHE_TTL, capability_problem(found))
        return self._problem[1]

    def _project(self, project_id: str) -> Project | None:
        now = time.monotonic()
        hit = self._projects.get(project_id)
        if hit is None or hit[0] <= now:
            hit = (now + _CACHE_TTL, self.store.get_project(project_id))
            self._projects[project_id] = hit
        return hit[1]

    def on_new_bugs(self, bug_ids: list[int]) -> None:
        """Indexer callback: queue new bugs and regressions of projects that want it."""
        for bug_id in bug_ids:
            bug = self.store.get_bug(bug_id)
            if bug is None or bug.status != Status.NEW:
                continue
            if not wants_repair(self._project(bug.project_id), self.settings):
                continue
            if self.workers_problem() is not None:
                return  # the same answer for every other bug: no worker can take them
            self._queue([bug_id], "new bug")

    def on_repository_configured(self, project: Project) -> list[str]:
        """A project just got its first repository: queue its open NEW bugs, newest first, at
        most `auto_repair_backlog` of them. Returns the jobs queued."""
        self._projects.pop(project.project_id, None)
        if not wants_repair(project, self.settings) or self.workers_problem() is not None:
            return []
        page = self.store.search_bugs(
            BugQuery(
                filters={"project_id": [project.project_id], "status": [Status.NEW.value]},
                sort="-first_seen",
                size=min(max(self.settings.auto_repair_backlog, 1), MAX_PAGE_SIZE),
                facets=(),
            )
        )
        backlog = page.items[: self.settings.auto_repair_backlog]
        return self._queue((bug.id for bug in backlog), "repository configured")

    def _queue(self, bug_ids: Iterable[int], why: str) -> list[str]:
        jobs = []
        for bug_id in bug_ids:
            job = enqueue_repair(self.redis, bug_id, self.settings)
            if job:
                log.info("auto-repair (%s): queued %s for bug %d", why, job, bug_id)
                jobs.append(job)
        return jobs


def on_status_changed(redis: Redis, settings: Settings, bug: Bug, by: str | None) -> str | None:
    """A person (anyone but the agent) moving a bug to PENDING_FIX asks for its repair: queue
    it, whatever the workers can do. Returns the job queued, if any."""
    if bug.status != Status.PENDING_FIX or by == AGENT:
        return None
    return enqueue_repair(redis, bug.id, settings)


def repair_status(redis: Redis, settings: Settings) -> RepairStatus:
    """Whether bugs are repaired without a click now, why not, and the workers' heartbeats."""
    workers = worker_capabilities(redis, settings.redis_prefix)
    reason = off_reason(settings, workers)
    return RepairStatus(
        automatic=reason is None,
        reason=reason.value if reason else None,
        reason_code=reason.name.lower() if reason else None,
        auto_repair_default=settings.auto_repair,
        workers=workers,
    )
