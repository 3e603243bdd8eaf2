"""Queue repairs automatically for new bugs and regressions of projects that want them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis import Redis

from config.settings import Settings
from store.base import Store
from store.models import Project
from store.vocabulary import Status

log = logging.getLogger("logcenter.autorepair")

_PROJECT_TTL = 10.0


def auto_repair(store: Store, redis: Redis, settings: Settings) -> Callable[[list[int]], None]:
    """A callback for the indexer: enqueue a repair for each NEW bug of an auto_repair project
    with a repository configured (project settings are cached for a few seconds)."""
    from agent.queue import enqueue_repair

    cache: dict[str, tuple[float, Project | None]] = {}

    def project(project_id: str) -> Project | None:
        hit = cache.get(project_id)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        found = store.get_project(project_id)
        cache[project_id] = (time.monotonic() + _PROJECT_TTL, found)
        return found

    def on_new_bugs(bug_ids: list[int]) -> None:
        for bug_id in bug_ids:
            bug = store.get_bug(bug_id)
            if bug is None or bug.status != Status.NEW:
                continue
            config = project(bug.project_id)
            if not config or not config.auto_repair:
                continue
            if not (config.repo_url or config.local_path):
                continue
            job = enqueue_repair(redis, bug_id, settings)
            if job:
                log.info("auto-repair: queued %s for bug %d (%s)", job, bug_id, bug.project_id)

    return on_new_bugs
