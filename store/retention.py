"""How long occurrences are kept: the install's default, each project's own, and the maximum.

The indexer turns the policy into cutoffs (one for projects without their own retention, one per
project that has one) and hands them to `Store.purge_events`. A maximum lowered after projects
chose longer retention caps those choices here, at purge time, without rewriting the projects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from store.models import Project


@dataclass(frozen=True)
class Cutoffs:
    """What one purge drops: occurrences stamped before `default`, or, for each project in
    `projects`, before its own cutoff there."""

    default: datetime
    projects: Mapping[str, datetime] = field(default_factory=dict)

    def of(self, project_id: str) -> datetime:
        return self.projects.get(project_id, self.default)

    def earliest(self) -> datetime:
        """The oldest cutoff: everything before it goes, whichever project it belongs to."""
        return min([self.default, *self.projects.values()])

    def groups(self) -> dict[datetime, frozenset[str]]:
        """{cutoff: the projects it applies to} for the projects named in `projects`."""
        by_cutoff: dict[datetime, set[str]] = {}
        for project_id, cutoff in self.projects.items():
            by_cutoff.setdefault(cutoff, set()).add(project_id)
        return {cutoff: frozenset(ids) for cutoff, ids in by_cutoff.items()}


@dataclass(frozen=True)
class Retention:
    """LOGCENTER_RETENTION_DAYS for projects without their own, never more than
    LOGCENTER_RETENTION_MAX_DAYS."""

    default_days: int
    max_days: int

    def days(self, own: int | None) -> int:
        """The days a project keeps whose own setting is `own` (None: the default)."""
        return min(own or self.default_days, self.max_days)

    def allows(self, own: int | None) -> bool:
        """Whether a project may set `own` (None resets it to the default)."""
        return own is None or 1 <= own <= self.max_days

    def capped(self, projects: Iterable[Project]) -> list[Project]:
        """Projects whose own retention is above the maximum (set before it was lowered)."""
        return [p for p in projects if (p.retention_days or 0) > self.max_days]

    def cutoffs(self, projects: Iterable[Project], now: datetime) -> Cutoffs:
        default = self.days(None)
        own = {
            p.project_id: now - timedelta(days=self.days(p.retention_days))
            for p in projects
            if p.retention_days is not None and self.days(p.retention_days) != default
        }
        return Cutoffs(now - timedelta(days=default), own)
