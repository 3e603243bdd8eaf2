"""New bugs and regressions of auto-repair projects are queued for the repair workers."""

from __future__ import annotations

from pathlib import Path

from agent.queue import job_id, repair_queue, repair_state
from ingest.autorepair import auto_repair
from tests.stack import ApiHarness


def test_new_bug_of_auto_repair_project_is_queued(sqlite_api: ApiHarness, tmp_path: Path) -> None:
    api = sqlite_api
    api.indexer.on_new_bugs = auto_repair(api.store, api.redis, api.settings)
    prefix = api.settings.redis_prefix
    queue = repair_queue(api.redis, prefix)
    queue.empty()
    try:
        api.client.put(
            "/api/v1/projects/rtc_backend", json={"auto_repair": True, "local_path": str(tmp_path)}
        )
        api.client.put(
            "/api/v1/projects/rtc_web", json={"auto_repair": False, "local_path": str(tmp_path)}
        )
        api.client.put("/api/v1/projects/no_repo", json={"auto_repair": True})
        wanted = api.report().json()["id"]
        skipped = [
            api.report(project_id=p, repo_url="").json()["id"] for p in ("rtc_web", "no_repo")
        ]
        api.drain()
        assert repair_state(api.redis, wanted, prefix) == "queued"
        assert [repair_state(api.redis, b, prefix) for b in skipped] == [None, None]
        assert queue.job_ids == [job_id(wanted, prefix)]
        # A repeat of a queued bug does not queue it twice.
        api.report()
        api.drain()
        assert queue.job_ids == [job_id(wanted, prefix)]
    finally:
        queue.empty()
