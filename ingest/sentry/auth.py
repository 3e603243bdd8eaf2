"""Who a Sentry request is for: the project named by the DSN's integer id, and the DSN key.

SDKs send the key as `X-Sentry-Auth: Sentry sentry_key=...` (servers), as `?sentry_key=`
(browsers, whose beacons cannot set headers) or only inside the envelope header's `dsn`.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from store.base import Store
from store.models import Project

#: Seconds a looked-up project (or its absence) is kept: a DSN's project rarely changes,
#: and a project created with PUT is found at most this long after a miss.
FOUND_SECONDS = 30.0
MISSING_SECONDS = 2.0


def header_key(headers: Mapping[str, str]) -> str:
    """The `sentry_key` of an `X-Sentry-Auth` (or `Authorization: Sentry ...`) header."""
    for name in ("x-sentry-auth", "authorization"):
        scheme, _, params = headers.get(name, "").strip().partition(" ")
        if scheme.lower() != "sentry":
            continue
        for param in params.split(","):
            key, _, value = param.strip().partition("=")
            if key.strip() == "sentry_key":
                return value.strip()
    return ""


def dsn_key(dsn: object) -> str:
    """The key (user part) of a DSN, as an envelope header carries it; "" when none."""
    if not isinstance(dsn, str):
        return ""
    try:
        return urlsplit(dsn).username or ""
    except ValueError:
        return ""


def key_matches(project: Project, given: str) -> bool:
    expected = project.public_key or ""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class DsnProjects:
    """Projects by their integer id, read from the store off the event loop and kept a while."""

    _known: dict[int, tuple[float, Project | None]] = field(default_factory=dict)

    async def find(self, store: Store, number: str) -> Project | None:
        if not number.isascii() or not number.isdigit() or len(number) > 18:
            return None
        key = int(number)
        now = time.monotonic()
        cached = self._known.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        project = await asyncio.to_thread(store.get_project_by_number, key)
        if len(self._known) > 10_000:
            self._known.clear()  # a scan of unknown ids: start over rather than grow
        self._known[key] = (now + (FOUND_SECONDS if project else MISSING_SECONDS), project)
        return project
