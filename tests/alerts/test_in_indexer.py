"""Under `logcenter up` the deliverer is a thread of the indexer process, not a process of its
own: a real `logcenter indexer` indexes a report and its deliverer thread sends the alert."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.services import RedisServer
from tests.alerts.receivers import HttpReceiver, wait_for
from tests.stack import ApiHarness, settings_for


def test_the_indexer_process_delivers_alerts(
    redis_server: RedisServer, redis_prefix: str, tmp_path: Path
) -> None:
    options = {
        "store_url": f"sqlite:///{tmp_path / 'logcenter.db'}",
        "alerts_allow_private": True,
        "alerts_cache_seconds": 0.2,
        "indexer_block_ms": 50,
    }
    settings = settings_for(tmp_path, redis_server.url, redis_prefix, **options)
    env = {**os.environ, "LOGCENTER_REDIS_URL": redis_server.url}
    env.update({f"LOGCENTER_{k.upper()}": str(v) for k, v in options.items()})
    env.update(LOGCENTER_REDIS_PREFIX=redis_prefix, LOGCENTER_DATA_DIR=str(tmp_path))
    receiver = HttpReceiver().start()
    log = tmp_path / "indexer.log"
    with ApiHarness(settings) as api, log.open("wb") as out:
        channel = api.client.post(
            "/api/v1/alerts/channels",
            json={"name": "hook", "kind": "webhook", "url": f"{receiver.url}/in-indexer"},
        ).json()["id"]
        rule = {"name": "all new", "triggers": ["new_bug"], "channel_ids": [channel]}
        assert api.client.post("/api/v1/alerts/rules", json=rule).status_code == 201
        cli = Path(sys.executable).parent / "logcenter"
        indexer = subprocess.Popen(
            [str(cli), "indexer"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            bug_id = api.report(project_id="in-indexer").json()["id"]
            wait_for(lambda: receiver.at("/in-indexer"), timeout=30, what="the alert")
            assert receiver.at("/in-indexer")[0].json()["bug_ids"] == [bug_id]
        finally:
            indexer.terminate()
            assert indexer.wait(timeout=20) == 0
            receiver.stop()
    assert "Traceback" not in log.read_text()
