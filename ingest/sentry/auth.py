"""The DSN key of a Sentry request, and whether it is the key of the project the DSN's integer
id names (that project is looked up through ingest.project_cache).

SDKs send the key as `X-Sentry-Auth: Sentry sentry_key=...` (servers), as `?sentry_key=`
(browsers, whose beacons cannot set headers) or only inside the envelope header's `dsn`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

from store.models import Project


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
