"""The automatic flow: bugs of projects with a repository are queued for repair by themselves,
but only while a repair worker that can do the work publishes its heartbeat; a person moving a
bug to PENDING_FIX always queues it.

The API and the indexer run in-process on a real Redis and store (ApiHarness); heartbeats are
published with the pool's own functions (the pool process itself is tested in
tests/agent/test_capability.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.capability import llm_capability, worker_capability
from agent.queue import RepairOff, job_id, publish_capability, repair_queue, repair_state
from client.workers import SandboxCapability
from config.settings import Settings
from ingest.autorepair import AutoRepair
from tests.conftest import drop_indices
from tests.stack import ApiHarness, settings_for

LLM = Settings(llm_model="openai/gpt-4o-mini", llm_api_key="sk-test", _env_file=None)  # type: ignore[call-arg]
NO_LLM = Settings(llm_model="openai/gpt-4o-mini", llm_api_key="", _env_file=None)  # type: ignore[call-arg]
AGENT = {"by": "agent"}


@pytest.fixture
def make_api(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> Iterator[Callable[..., ApiHarness]]:
    """An API harness whose indexer runs the automatic flow, with `settings` (SQLite unless
    they name another store)."""
    made: list[ApiHarness] = []

    def make(**settings: Any) -> ApiHarness:
        settings.setdefault("store_url", f"sqlite:///{tmp_path / 'logcenter.db'}")
        config = settings_for(tmp_path, redis_url, redis_prefix, **settings)
        api = ApiHarness(config).__enter__()
        made.append(api)
        hook(api)
        return api

    yield make
    for api in made:
        repair_queue(api.redis, redis_prefix).empty()
        api.__exit__(None, None, None)
        if api.settings.store_url.startswith("http"):
            drop_indices(api.settings.store_url, api.settings.es_index_prefix)


def hook(api: ApiHarness) -> None:
    """The indexer's callbacks, as `logcenter indexer` sets them (a fresh capability cache)."""
    repairs = AutoRepair(api.store, api.redis, api.settings)
    api.indexer.on_new_bugs = repairs.on_new_bugs
    api.indexer.on_repository_configured = repairs.on_repository_configured


def heartbeat(api: ApiHarness, llm: Settings = LLM, sandbox: bool = True) -> None:
    """A worker pool's heartbeat, as `logcenter worker` publishes it, then fresh callbacks."""
    beat = worker_capability("repair-test-pool", llm, workers=2).model_copy(
        update={
            "llm": llm_capability(llm, env={}),
            "sandbox": SandboxCapability(ok=sandbox, kind="subprocess"),
        }
    )
    publish_capability(api.redis, api.settings.redis_prefix, beat, lifetime=60)
    hook(api)


def report(api: ApiHarness, project: str, line: int, **fields: Any) -> int:
    fields.setdefault("repo_url", "")
    reply = api.report(project_id=project, line_number=line, **fields)
    assert reply.status_code == 200, reply.text
    bug_id: int = reply.json()["id"]
    return bug_id


def queued(api: ApiHarness) -> list[str]:
    return list(repair_queue(api.redis, api.settings.redis_prefix).job_ids)


def jobs(api: ApiHarness, *bug_ids: int) -> list[str]:
    return [job_id(b, api.settings.redis_prefix) for b in bug_ids]


def status(api: ApiHarness) -> dict[str, Any]:
    reply = api.client.get("/api/v1/repairs/status")
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def move(api: ApiHarness, bug_id: int, *steps: str, **extra: Any) -> None:
    for step in steps:
        reply = api.client.put(f"/api/v1/bugs/{bug_id}/status", json={"status": step, **extra})
        assert reply.status_code == 200, reply.text


def test_without_a_capable_worker_nothing_is_queued_and_the_status_says_why(
    make_api: Callable[..., ApiHarness], tmp_path: Path
) -> None:
    api = make_api()
    api.client.put("/api/v1/projects/rtc_backend", json={"local_path": str(tmp_path)})
    assert status(api) == {
        "automatic": False,
        "reason": "no repair worker is running",
        "reason_code": "no_worker",
        "auto_repair_default": True,
        "workers": [],
    }
    first = report(api, "rtc_backend", 1)
    api.drain()
    assert repair_state(api.redis, first, api.settings.redis_prefix) is None

    heartbeat(api, llm=NO_LLM)
    now = status(api)
    assert (now["automatic"], now["reason_code"]) == (False, "no_llm")
    assert now["reason"] == str(RepairOff.NO_LLM) and "LOGCENTER_LLM_API_KEY" in now["reason"]
    (pool,) = now["workers"]
    assert (pool["worker"], pool["workers"], pool["llm"]["ok"]) == ("repair-test-pool", 2, False)
    assert "OPENAI_API_KEY" in pool["llm"]["problem"]
    report(api, "rtc_backend", 2)
    api.drain()
    assert queued(api) == []

    heartbeat(api, sandbox=False)
    assert status(api)["reason"] == "the repair workers have no working sandbox"
    report(api, "rtc_backend", 3)
    api.drain()
    assert queued(api) == []


def test_with_an_llm_new_bugs_and_regressions_are_queued_unless_the_project_says_no(
    make_api: Callable[..., ApiHarness], tmp_path: Path
) -> None:
    api = make_api()
    heartbeat(api)
    assert status(api)["automatic"] is True and status(api)["reason"] is None
    api.client.put("/api/v1/projects/rtc_backend", json={"local_path": str(tmp_path)})
    api.client.put(
        "/api/v1/projects/rtc_web", json={"local_path": str(tmp_path), "auto_repair": False}
    )
    api.client.put("/api/v1/projects/no_repo", json={"auto_repair": True})
    assert api.client.get("/api/v1/projects/rtc_backend").json()["auto_repair"] is None
    wanted = report(api, "rtc_backend", 1)
    report(api, "rtc_web", 1)
    report(api, "no_repo", 1)
    api.drain()
    assert queued(api) == jobs(api, wanted)
    # A repeat of a queued bug does not queue it twice.
    report(api, "rtc_backend", 1)
    api.drain()
    assert queued(api) == jobs(api, wanted)

    # The repair ends FIXED; the bug occurs again: the regression is queued again.
    repair_queue(api.redis, api.settings.redis_prefix).empty()
    move(api, wanted, "VERIFYING", "PENDING_FIX", "FIXING", "FIXED", **AGENT)
    assert queued(api) == []
    report(api, "rtc_backend", 1)
    api.drain()
    assert api.client.get(f"/api/v1/bugs/{wanted}").json()["regression_count"] == 1
    assert queued(api) == jobs(api, wanted)


def test_with_the_install_setting_off_only_projects_that_say_on_are_queued(
    make_api: Callable[..., ApiHarness], tmp_path: Path
) -> None:
    api = make_api(auto_repair=False)
    heartbeat(api)
    now = status(api)
    assert (now["automatic"], now["auto_repair_default"]) == (False, False)
    assert now["reason"] == "automatic repair is turned off (LOGCENTER_AUTO_REPAIR=false)"
    api.client.put("/api/v1/projects/rtc_backend", json={"local_path": str(tmp_path)})
    api.client.put(
        "/api/v1/projects/rtc_web", json={"local_path": str(tmp_path), "auto_repair": True}
    )
    report(api, "rtc_backend", 1)
    wanted = report(api, "rtc_web", 1)
    api.drain()
    assert queued(api) == jobs(api, wanted)


def test_configuring_a_repository_queues_the_open_new_bugs_newest_first_bounded(
    make_api: Callable[..., ApiHarness], tmp_path: Path, store_url: str, es_prefix: str
) -> None:
    api = make_api(auto_repair_backlog=3, store_url=store_url, es_index_prefix=es_prefix)
    heartbeat(api)
    bugs = [
        report(api, "rtc_web", line, timestamp=f"2026-01-0{line}T10:00:00Z") for line in range(1, 6)
    ]
    latest = report(api, "rtc_web", 9, timestamp="2026-01-09T10:00:00Z")
    api.drain()
    move(api, latest, "FIX_FAILED", failure_reason="given up by hand")  # no longer NEW
    assert queued(api) == []  # no repository yet

    put = api.client.put("/api/v1/projects/rtc_web", json={"local_path": str(tmp_path)})
    assert put.status_code == 200, put.text
    assert queued(api) == jobs(api, bugs[4], bugs[3], bugs[2])
    # Only the first repository counts: changing it queues nothing more.
    repair_queue(api.redis, api.settings.redis_prefix).empty()
    api.client.put("/api/v1/projects/rtc_web", json={"repo_url": "https://git.example.com/w.git"})
    assert queued(api) == []


def test_a_report_whose_repo_url_fills_an_empty_one_queues_the_open_new_bugs(
    make_api: Callable[..., ApiHarness],
) -> None:
    api = make_api()
    heartbeat(api)
    older = [
        report(api, "rtc_web", line, timestamp=f"2026-01-0{line}T10:00:00Z") for line in (1, 2)
    ]
    api.drain()
    assert queued(api) == []
    url = "https://gitea.example.com/team/rtc_web.git"
    newest = report(api, "rtc_web", 3, repo_url=url, timestamp="2026-01-03T10:00:00Z")
    api.drain()
    assert api.client.get("/api/v1/projects/rtc_web").json()["repo_url"] == url
    assert queued(api) == jobs(api, newest, older[1], older[0])


def test_moving_a_bug_to_pending_fix_by_hand_queues_its_repair(
    make_api: Callable[..., ApiHarness],
) -> None:
    api = make_api()  # no worker at all: a person's request is queued anyway
    by_hand, by_agent = report(api, "rtc_web", 1), report(api, "rtc_web", 2)
    api.drain()
    move(api, by_hand, "VERIFYING")
    assert queued(api) == []
    move(api, by_hand, "PENDING_FIX", note="please repair")
    move(api, by_agent, "VERIFYING", "PENDING_FIX", **AGENT)
    assert queued(api) == jobs(api, by_hand)
    assert repair_state(api.redis, by_agent, api.settings.redis_prefix) is None
