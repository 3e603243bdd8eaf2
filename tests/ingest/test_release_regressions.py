"""Release-aware regressions through the report API, the gate and each store: an occurrence from
a release older than the one a bug was fixed in leaves it fixed, even after Redis lost its keys."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from ingest.gate import Gate, publish_status
from store.sqlite import SQLiteStore
from store.version import is_older
from tests.stack import ApiHarness


def _fix(api: ApiHarness, bug_id: int, **extra: Any) -> dict[str, Any]:
    for status in ("VERIFYING", "PENDING_FIX", "FIXING"):
        moved = api.client.put(f"/api/v1/bugs/{bug_id}/status", json={"status": status})
        assert moved.status_code == 200, moved.text
    fixed = api.client.put(f"/api/v1/bugs/{bug_id}/status", json={"status": "FIXED", **extra})
    assert fixed.status_code == 200, fixed.text
    body: dict[str, Any] = fixed.json()
    return body


def _occur(api: ApiHarness, version: str) -> str:
    """Report the bug from `version`; the status the gate answered with (once indexed)."""
    reply = api.report(version=version)
    assert reply.status_code == 200, reply.text
    api.drain()
    status: str = reply.json()["status"]
    return status


def _bug(api: ApiHarness, bug_id: int) -> dict[str, Any]:
    body: dict[str, Any] = api.client.get(f"/api/v1/bugs/{bug_id}").json()
    return body


def test_an_older_release_leaves_a_fixed_bug_fixed(sqlite_api: ApiHarness) -> None:
    """Through the report API on one store (the store contract holds both to the same)."""
    api = sqlite_api
    bug_id = api.report(version="1.2.0").json()["id"]
    api.drain()
    assert _bug(api, bug_id)["newest_version"] == "1.2.0"

    # Fixed without a version: the newest one seen is recorded, on the bug and in its history.
    fixed = _fix(api, bug_id)
    assert fixed["fixed_version"] == "1.2.0"
    assert fixed["status_history"][-1]["fixed_version"] == "1.2.0"
    assert _occur(api, "1.1.0") == "FIXED"
    bug = _bug(api, bug_id)
    assert (bug["status"], bug["count"], bug["regression_count"]) == ("FIXED", 2, 0)
    assert _occur(api, "1.2.0") == "NEW"  # the fixed release itself: the fix did not hold
    bug = _bug(api, bug_id)
    assert (bug["status"], bug["regression_count"], bug["fixed_version"]) == ("NEW", 1, None)

    # Fixed in a release given with the move, then Redis loses every key: the gate reloads
    # the fixed version from the store and still tells older releases from newer ones.
    assert _fix(api, bug_id, fixed_version="1.3.0")["fixed_version"] == "1.3.0"
    assert _occur(api, "1.2.0") == "FIXED"
    api.redis.flushall()
    assert _occur(api, "1.3.0-rc.1") == "FIXED"  # a pre-release comes before its release
    assert _occur(api, "myapp@1.2.9") == "FIXED"  # a Sentry-style release, by its version
    bug = _bug(api, bug_id)
    assert (bug["status"], bug["count"], bug["regression_count"]) == ("FIXED", 6, 1)
    assert bug["newest_version"] == "1.3.0-rc.1"
    assert _occur(api, "1.3.1") == "NEW"
    bug = _bug(api, bug_id)
    assert (bug["status"], bug["regression_count"], bug["newest_version"]) == ("NEW", 2, "1.3.1")

    # A version that compares with nothing reopens, as without versions.
    _fix(api, bug_id, fixed_version="2.0.0")
    assert _occur(api, "nightly") == "NEW"
    assert _bug(api, bug_id)["regression_count"] == 3


def test_fixed_version_goes_with_a_fix_only(sqlite_api: ApiHarness) -> None:
    api = sqlite_api
    bug_id = api.report(version="1.0.0").json()["id"]
    api.drain()
    moved = api.client.put(
        f"/api/v1/bugs/{bug_id}/status", json={"status": "VERIFYING", "fixed_version": "1.0.1"}
    )
    assert moved.status_code == 422 and "fixed_version" in moved.text
    assert _bug(api, bug_id)["status"] == "NEW"


def _versions(rnd: random.Random, n: int) -> list[str | None]:
    """Versions of every kind: SemVer, PEP 440, both, neither, none, a Sentry release."""
    fixed = ["1.3.0", "1.3.0-rc.1", "1.3.0-1", "1.3", "1.3rc2", "1.3.0.post1", "1!0.1", "v1.3.0"]
    other = ["nightly", "abc1234", "shop@1.3.0", "1.3.0+build.9", "1.3.0-alpha.beta", None, ""]
    made = [
        f"1.{rnd.randint(2, 4)}.{rnd.randint(0, 2)}"
        + rnd.choice(["", "-rc.1", "-rc.2", "-beta", "rc1", ".post1", ".dev0", "-1"])
        for _ in range(n)
    ]
    return [*fixed, *other, *made]


def test_the_gate_orders_releases_as_python_does(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """Whatever the versions, the gate script reopens a fixed bug exactly when Python finds
    the report's version not older than the fixed one (store.version.is_older)."""
    store = SQLiteStore(f"sqlite:///{tmp_path / 'gate.db'}")
    store.init()
    versions = _versions(random.Random(16), 20)
    fixed_versions = [v for v in versions if v][:8]
    stamp = "2026-11-30T00:00:00+00:00"

    async def run() -> list[tuple[str, str | None, bool]]:
        aredis = AsyncRedis.from_url(redis_url)
        gate = Gate(aredis, Redis.from_url(redis_url), store, redis_prefix, max_backlog=0)
        try:
            bug_id = (await gate.admit("shop", "fp", stamp, b"{}")).bug_id
            seen = []
            for fixed in fixed_versions:
                for version in versions:
                    pipe = gate.sync_redis.pipeline()
                    publish_status(pipe, gate.keys, bug_id, "FIXED", fixed)
                    pipe.execute()
                    admitted = await gate.admit("shop", "fp", stamp, b"{}", "", version)
                    seen.append((fixed, version, admitted.reopened))
            return seen
        finally:
            await aredis.aclose()

    try:
        seen = asyncio.run(run())
    finally:
        store.close()
    wrong = [(f, v, r) for f, v, r in seen if r is is_older(v, f)]
    assert not wrong
    assert 0 < sum(r for _, _, r in seen) < len(seen)  # both decisions were taken
