"""A data dir whose disk fills up: reports are refused (503 + Retry-After) rather than lost,
/readyz names the cause, the indexer keeps what it could not write in the stream, and
everything resumes by itself when space returns. The disk is a real 16 MiB tmpfs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from bench.stack import running_stack, stack_env
from ingest.gate import Keys
from tests.ingest.test_pipeline import bug_counts

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs: mounting one needs root (CI runs the suite as root)."""
    if os.geteuid() != 0:
        pytest.skip(
            "SKIPPED: the disk-full test mounts a 16 MiB tmpfs, which needs root; run the "
            "suite as root (as CI does) to exercise it"
        )
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; return it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:  # unbuffered: closing has nothing to flush
        try:
            while out.write(b"\0" * 65536):
                pass
        except OSError:
            pass
    return filler


def test_a_full_data_dir_refuses_reports_loses_none_and_resumes(
    tmp_path: Path, small_disk: Path, redis_url: str, redis_prefix: str
) -> None:
    db = small_disk / "logcenter.db"
    env = stack_env(redis_url, redis_prefix, store_url=f"sqlite:///{db}", data_dir=str(small_disk))
    keys = Keys(redis_prefix)
    redis = Redis.from_url(redis_url)
    with running_stack(tmp_path / "s", env) as stack:  # its logs stay off the small disk
        acked = [stack.report(line_number=n % 7).status_code for n in range(20)]
        assert acked == [200] * 20
        stack.wait_until(lambda: sum(bug_counts(stack).values()) == 20, 30, "the first 20")

        # The indexer is away while 50 more reports arrive; then the disk fills up.
        stack.kill("indexer0")
        acked = [stack.report(line_number=n % 7, message=f"m{n}").status_code for n in range(50)]
        assert acked == [200] * 50
        accepted = [50]

        def answer() -> int:
            """Send a report; count it when accepted."""
            status = stack.report(message=f"a{accepted[0]}").status_code
            accepted[0] += status == 200
            return status

        filler = fill(small_disk)
        # Until the next free-space reading (at most a second), reports are still accepted.
        stack.wait_until(lambda: answer() == 503, 10, "reports refused")
        refused = stack.report()
        assert refused.status_code == 503 and refused.headers["retry-after"] == "30"
        assert "disk nearly full" in refused.json()["detail"], refused.text
        project = stack.client.get("/api/v1/projects/rtc_backend").json()
        sdk = stack.client.post(  # a Sentry SDK's event is refused the same way
            f"/api/{project['id']}/store/",
            params={"sentry_key": project["public_key"]},
            json={"message": "disk full", "level": "error"},
        )
        assert (sdk.status_code, sdk.headers["retry-after"]) == (503, "30"), sdk.text
        ready = stack.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["disk"].startswith(f"low: disk nearly full: {small_disk}")

        # The indexer cannot write them: they stay in the stream, unacknowledged.
        stack.spawn("indexer1", "indexer")
        log = tmp_path / "s" / "indexer1.log"
        stack.wait_until(
            lambda: "disk is full; retrying in" in log.read_text(), 30, "a store write to fail"
        )
        assert stack.procs["indexer1"].poll() is None, "the indexer waits for space, alive"
        assert redis.xlen(keys.stream) == accepted[0]
        assert sum(bug_counts(stack).values()) == 20

        filler.unlink()  # space returns: everything resumes by itself
        stack.wait_until(lambda: answer() == 200, 10, "reports accepted")
        total = 20 + accepted[0]
        stack.wait_until(lambda: sum(bug_counts(stack).values()) == total, 30, "every report")
        assert redis.xlen(keys.stream) == 0
        assert stack.client.get("/readyz").json()["disk"] == "ok"
    redis.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
