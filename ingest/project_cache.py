"""Projects as ingestion needs them on every request (a Sentry DSN's project, a project's
grouping), read from the store off the event loop and kept a short while.

A change made through the API reaches every API process within `FOUND_SECONDS`; a project that
does not exist yet is asked for again after `MISSING_SECONDS`. While the store cannot be read,
the last answer stands; without one, store.errors.Unavailable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from store.base import Store
from store.errors import StoreError, Unavailable
from store.models import Project

FOUND_SECONDS = 10.0
MISSING_SECONDS = 2.0
#: Entries kept at most per table; past it the table starts over rather than grow (a client
#: sending made-up project names must not fill the memory).
MAX_ENTRIES = 10_000

K = TypeVar("K")


@dataclass
class ProjectCache:
    _by_number: dict[int, tuple[float, Project | None]] = field(default_factory=dict)
    _by_id: dict[str, tuple[float, Project | None]] = field(default_factory=dict)

    async def by_number(self, store: Store, number: int) -> Project | None:
        """The project whose integer id is `number` (a Sentry DSN's project)."""
        return await _cached(self._by_number, number, lambda: store.get_project_by_number(number))

    async def by_id(self, store: Store, project_id: str) -> Project | None:
        return await _cached(self._by_id, project_id, lambda: store.get_project(project_id))

    def forget(self, project: Project) -> None:
        """This process changed the project: read it again next time."""
        self._by_number.pop(project.id, None)
        self._by_id.pop(project.project_id, None)


async def _cached(
    table: dict[K, tuple[float, Project | None]], key: K, load: Callable[[], Project | None]
) -> Project | None:
    now = time.monotonic()
    cached = table.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        project = await asyncio.to_thread(load)
    except (StoreError, OSError) as exc:
        if cached is not None:
            return cached[1]  # what was known a moment ago beats no answer
        raise Unavailable(f"the store cannot be read: {exc}") from exc
    if len(table) >= MAX_ENTRIES:
        table.clear()
    table[key] = (now + (FOUND_SECONDS if project else MISSING_SECONDS), project)
    return project
