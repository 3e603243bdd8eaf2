"""The free-space watermark on the data dir (SQLite and the embedded Redis write there).

Below `min_free_disk_percent` the API refuses reports (503 + Retry-After) and /readyz fails,
naming the cause, so that neither SQLite nor Redis's append-only file runs out of space
mid-write; reports already acknowledged stay in the stream until the store can take them. The
check reads `statvfs` at most once a second, so the hot path pays a clock read.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import Settings

#: Seconds a client should wait before sending again while the disk is low.
RETRY_AFTER = 30


@dataclass
class DiskGuard:
    paths: tuple[Path, ...]
    min_free_percent: float
    interval: float = 1.0
    _checked_at: float = field(default=-math.inf, repr=False)
    _problem: str | None = field(default=None, repr=False)

    @classmethod
    def for_settings(cls, settings: Settings) -> DiskGuard:
        """Watch the data dir, and the SQLite file's folder when it lies elsewhere."""
        paths = [settings.data_dir]
        url = settings.resolved_store_url()
        if url.startswith("sqlite:///"):
            paths.append(Path(url.removeprefix("sqlite:///")).parent)
        return cls(tuple(dict.fromkeys(p.resolve() for p in paths)), settings.min_free_disk_percent)

    def problem(self) -> str | None:
        """Why reports are refused now (a sentence naming the folder), or None."""
        if self.min_free_percent <= 0:
            return None
        now = time.monotonic()
        if now - self._checked_at >= self.interval:
            self._problem = self._check()
            self._checked_at = now
        return self._problem

    def _check(self) -> str | None:
        for path in self.paths:
            free = free_percent(path)
            if free is not None and free < self.min_free_percent:
                return (
                    f"disk nearly full: {path} has {free:.1f}% free, below "
                    f"LOGCENTER_MIN_FREE_DISK_PERCENT ({self.min_free_percent:g}%)"
                )
        return None


def free_percent(path: Path) -> float | None:
    """Space an unprivileged writer may still use on `path`'s file system (or that of its
    nearest existing parent), in percent of its size; None when it cannot be read."""
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    if not stat.f_blocks:
        return None
    return 100.0 * stat.f_bavail / stat.f_blocks
