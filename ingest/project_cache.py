"""Projects as ingestion needs them on every request (a Sentry DSN's project, a project's
grouping), read from the store off the event loop and kept a short while.

A change made through the API reaches every API process within `FOUND_SECONDS`; a project that
does not exist yet is asked for again after `MISSING_SECONDS`. Requests that miss together wait
for one read. While the store cannot be read, the last answer stands; without one,
store.errors.Unavailable.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from store.base import Store
from store.errors import StoreError, Unavailable
from store.models import Project

FOUND_SECONDS = 10.0
MISSING_SECONDS = 2.0
#: Entries kept at most per table; past it the table starts over rather than grow (a client
#: sending made-up project names must not fill the memory).
MAX_ENTRIES = 10_000

K = TypeVar("K", bound=Hashable)


@dataclass
class _Table(Generic[K]):
    known: dict[K, tuple[float, Project | None]] = field(default_factory=dict)
    loading: dict[K, asyncio.Future[Project | None]] = field(default_factory=dict)

    async def get(self, key: K, load: Callable[[], Project | None]) -> Project | None:
        now = time.monotonic()
        cached = self.known.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        pending = self.loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(load))
            self.loading[key] = pending
            pending.add_done_callback(lambda _: self.loading.pop(key, None))
        try:
            project = await asyncio.shield(pending)
        except (StoreError, OSError, sqlite3.Error) as exc:
            if cached is not None:
                return cached[1]  # what was known a moment ago beats no answer
            raise Unavailable(f"the store cannot be read: {exc}") from exc
        if len(self.known) >= MAX_ENTRIES:
            self.known.clear()
        self.known[key] = (now + (FOUND_SECONDS if project else MISSING_SECONDS), project)
        return project


@dataclass
class ProjectCache:
    _by_number: _Table[int] = field(default_factory=_Table)
    _by_id: _Table[str] = field(default_factory=_Table)

    async def by_number(self, store: Store, number: int) -> Project | None:
        """The project whose integer id is `number` (a Sentry DSN's project)."""
        return await self._by_number.get(number, lambda: store.get_project_by_number(number))

    async def by_id(self, store: Store, project_id: str) -> Project | None:
        return await self._by_id.get(project_id, lambda: store.get_project(project_id))

    def forget(self, project: Project) -> None:
        """This process changed the project: read it again next time."""
        self._by_number.known.pop(project.id, None)
        self._by_id.known.pop(project.project_id, None)
