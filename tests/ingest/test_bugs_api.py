"""The bugs API over HTTP on both backends, with data made through the report endpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product
from typing import Any

import pytest

from bench.stack import guide_payload
from store.search import MAX_BUCKETS
from store.vocabulary import TRANSITIONS, Status
from tests.stack import ApiHarness

PROJECTS = ("rtc_backend", "rtc_web", "airhub_app")
LEVELS = ("ERROR", "WARNING", "CRITICAL")
ENVS = ("production", "staging")


def seed(api: ApiHarness, n: int) -> list[int]:
    ids = []
    for i in range(n):
        payload = guide_payload(
            project_id=PROJECTS[i % 3],
            level=LEVELS[i % 3 if i % 2 else 0],
            environment=ENVS[i % 2],
            line_number=i + 1,
            type="KeyError" if i % 4 == 0 else "ValueError",
            message=f"数据库连接超时 case {i}" if i % 5 == 0 else f"request failed case {i}",
            timestamp=f"2026-11-{1 + i % 20:02d}T{i % 24:02d}:00:00Z",
        )
        reply = api.client.post("/api/v1/logs/report", json=payload)
        assert reply.status_code == 200
        ids.append(reply.json()["id"])
    api.drain()
    return ids


def bugs(api: ApiHarness, **params: Any) -> dict[str, Any]:
    reply = api.client.get("/api/v1/bugs", params=params)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def facet(body: dict[str, Any], name: str) -> dict[str, int]:
    return {f["value"]: f["count"] for f in body["facets"][name]}


def test_facet_counts_equal_matching_bugs(api: ApiHarness) -> None:
    seed(api, 60)
    everything = bugs(api, size=500)
    assert everything["total"] == 60
    for name in ("project_id", "level", "environment", "error_type", "status", "source"):
        counts = facet(everything, name)
        assert sum(counts.values()) == 60
        for value, count in counts.items():
            assert bugs(api, **{name: value}, size=1)["total"] == count
    assert facet(everything, "project_id") == {"rtc_backend": 20, "rtc_web": 20, "airhub_app": 20}


def test_multi_select_facets_ignore_their_own_filter(api: ApiHarness) -> None:
    seed(api, 30)
    one = bugs(api, project_id="rtc_backend")
    two = bugs(api, project_id=["rtc_backend", "rtc_web"])
    assert one["total"] == 10 and two["total"] == 20
    # The project facet still shows every project (its own filter is ignored)...
    assert facet(one, "project_id") == {"rtc_backend": 10, "rtc_web": 10, "airhub_app": 10}
    # ...while other facets count only the selected projects.
    assert sum(facet(two, "level").values()) == 20
    both = bugs(api, project_id="rtc_backend", environment="staging")
    assert facet(both, "environment") == facet(bugs(api, project_id="rtc_backend"), "environment")
    assert sum(facet(both, "project_id").values()) == bugs(api, environment="staging")["total"]


def test_query_and_unknown_filter_values(api: ApiHarness) -> None:
    seed(api, 20)
    assert bugs(api, q="连接")["total"] == 4
    assert bugs(api, q='message:"request failed" AND error_type:KeyError')["total"] == 4
    assert bugs(api, q="line_number:[1 TO 5]")["total"] == 5
    assert bugs(api, project_id="no_such_project")["total"] == 0


@pytest.mark.parametrize("q", ['message:"unclosed', "nosuchfield:x", "line_number:[a TO"])
def test_bad_query_is_400_naming_the_problem(sqlite_api: ApiHarness, q: str) -> None:
    reply = sqlite_api.client.get("/api/v1/bugs", params={"q": q})
    assert reply.status_code == 400
    assert reply.json()["detail"].startswith("q:")


def test_bug_detail_and_404(api: ApiHarness) -> None:
    (bug_id,) = seed(api, 1)
    bug = api.client.get(f"/api/v1/bugs/{bug_id}").json()
    for key in (
        "stack_trace",
        "context",
        "count",
        "first_seen",
        "last_seen",
        "regression_count",
        "status_history",
        "failure_reason",
    ):
        assert key in bug
    assert api.client.get("/api/v1/bugs/999999").status_code == 404


LEGAL = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
PATHS: dict[Status, list[Status]] = {
    Status.NEW: [],
    Status.VERIFYING: [Status.VERIFYING],
    Status.PENDING_FIX: [Status.VERIFYING, Status.PENDING_FIX],
    Status.CANNOT_REPRODUCE: [Status.VERIFYING, Status.CANNOT_REPRODUCE],
    Status.FIXING: [Status.VERIFYING, Status.PENDING_FIX, Status.FIXING],
    Status.FIXED: [Status.VERIFYING, Status.PENDING_FIX, Status.FIXING, Status.FIXED],
    Status.FIX_FAILED: [Status.VERIFYING, Status.PENDING_FIX, Status.FIXING, Status.FIX_FAILED],
    Status.VERIFIED: [
        Status.VERIFYING,
        Status.PENDING_FIX,
        Status.FIXING,
        Status.FIXED,
        Status.VERIFIED,
    ],
    Status.DEPLOYED: [
        Status.VERIFYING,
        Status.PENDING_FIX,
        Status.FIXING,
        Status.FIXED,
        Status.VERIFIED,
        Status.DEPLOYED,
    ],
}


def move(api: ApiHarness, bug_id: int, status: Status, **extra: Any) -> Any:
    body = {"status": status, **extra}
    if status == Status.FIX_FAILED:
        body.setdefault("failure_reason", "tests still failing")
    return api.client.put(f"/api/v1/bugs/{bug_id}/status", json=body)


def test_every_legal_and_illegal_move(sqlite_api: ApiHarness) -> None:
    pairs = list(product(Status, Status))
    ids = seed(sqlite_api, len(pairs))
    for bug_id, (start, target) in zip(ids, pairs, strict=True):
        for step in PATHS[start]:
            assert move(sqlite_api, bug_id, step).status_code == 200
        reply = move(sqlite_api, bug_id, target)
        if (start, target) in LEGAL:
            assert reply.status_code == 200, (start, target, reply.text)
            assert reply.json()["status"] == target
        else:
            assert reply.status_code == 409, (start, target)
            allowed = ", ".join(TRANSITIONS[start]) or "none"
            assert allowed in reply.json()["detail"]


def test_status_moves_on_each_backend(api: ApiHarness) -> None:
    (bug_id,) = seed(api, 1)
    for step in PATHS[Status.FIXING]:
        assert move(api, bug_id, step).status_code == 200
    assert move(api, bug_id, Status.NEW).status_code == 409
    failed = move(api, bug_id, Status.FIX_FAILED, failure_reason="edit not applicable")
    assert failed.json()["failure_reason"] == "edit not applicable"
    listed = bugs(api, status="FIX_FAILED")["items"]
    assert [(b["id"], b["failure_reason"]) for b in listed] == [(bug_id, "edit not applicable")]


def test_fix_failed_needs_failure_reason(sqlite_api: ApiHarness) -> None:
    (bug_id,) = seed(sqlite_api, 1)
    for step in PATHS[Status.FIXING]:
        move(sqlite_api, bug_id, step)
    for reason in (None, "", "   "):
        reply = sqlite_api.client.put(
            f"/api/v1/bugs/{bug_id}/status", json={"status": "FIX_FAILED", "failure_reason": reason}
        )
        assert reply.status_code == 422
        assert "failure_reason" in reply.text
    assert sqlite_api.client.get(f"/api/v1/bugs/{bug_id}").json()["status"] == "FIXING"


def test_status_history_records_every_change(api: ApiHarness) -> None:
    bug_id = api.report().json()["id"]
    api.drain()
    move(api, bug_id, Status.VERIFYING, note="looking", by="alice")
    move(api, bug_id, Status.CANNOT_REPRODUCE, note="no repro")
    history = api.client.get(f"/api/v1/bugs/{bug_id}").json()["status_history"]
    assert [(h["from"], h["to"], h["reason"]) for h in history] == [
        ("NEW", "VERIFYING", "looking"),
        ("VERIFYING", "CANNOT_REPRODUCE", "no repro"),
    ]
    assert history[0]["by"] == "alice" and history[0]["at"]
    # The gate's status cache follows: a repeat report shows the current status.
    assert api.report().json()["status"] == "CANNOT_REPRODUCE"


def test_transitions_endpoint(sqlite_api: ApiHarness) -> None:
    (bug_id,) = seed(sqlite_api, 1)
    body = sqlite_api.client.get(f"/api/v1/bugs/{bug_id}/transitions").json()
    assert body == {"status": "NEW", "allowed": ["VERIFYING", "FIX_FAILED"]}


@pytest.mark.slow
def test_paging_is_stable_over_1000_bugs(api: ApiHarness) -> None:
    ids = set(seed(api, 1000))
    for sort in ("-last_seen", "first_seen", "count", "-id"):
        paged = [
            b["id"]
            for page in range(1, 5)
            for b in bugs(api, sort=sort, page=page, size=250)["items"]
        ]
        assert len(paged) == 1000 and set(paged) == ids, sort
        walked: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"sort": sort, "size": 333}
            if cursor:
                params["cursor"] = cursor
            body = bugs(api, **params)
            walked += [b["id"] for b in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert walked == paged, sort


def test_sort_orders(api: ApiHarness) -> None:
    seed(api, 10)
    for _ in range(3):
        api.report(
            project_id=PROJECTS[0],
            line_number=1,
            timestamp="2026-11-30T00:00:00Z",
            level="ERROR",
            environment="production",
            type="KeyError",
            message="数据库连接超时 case 0",
        )
    api.drain()
    by_count = bugs(api, sort="-count")["items"]
    assert by_count[0]["count"] == 4
    assert [b["id"] for b in bugs(api, sort="id")["items"]] == sorted(b["id"] for b in by_count)
    seen = [b["last_seen"] for b in bugs(api, sort="-last_seen")["items"]]
    assert seen == sorted(seen, reverse=True)


def test_bug_events_newest_first(api: ApiHarness) -> None:
    for day in (3, 1, 2):
        api.report(timestamp=f"2026-11-0{day}T00:00:00Z")
    api.drain()
    bug_id = bugs(api)["items"][0]["id"]
    events = api.client.get(f"/api/v1/bugs/{bug_id}/events").json()
    assert events["total"] == 3
    assert [e["timestamp"][:10] for e in events["items"]] == [
        "2026-11-03",
        "2026-11-02",
        "2026-11-01",
    ]


def test_events_search_histogram_sums_to_total(api: ApiHarness) -> None:
    seed(api, 48)
    body = {
        "q": "level:ERROR",
        "from": "2026-11-01T00:00:00Z",
        "to": "2026-11-21T00:00:00Z",
        "interval": "1d",
        "facets": ["project_id", "environment"],
        "size": 10,
    }
    reply = api.client.post("/api/v1/events/search", json=body)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["total"] == bugs(api, level="ERROR")["total"]
    assert sum(b["count"] for b in result["histogram"]) == result["total"]
    assert len(result["items"]) == 10
    assert sum(f["count"] for f in result["facets"]["project_id"]) == result["total"]
    auto = api.client.post("/api/v1/events/search", json={**body, "interval": "auto"}).json()
    assert auto["interval"] == "12h"
    assert sum(b["count"] for b in auto["histogram"]) == result["total"]
    # By the minute, 20 days would be 28,800 buckets: widened to what a chart can draw.
    fine = api.client.post("/api/v1/events/search", json={**body, "interval": "1m"}).json()
    assert fine["interval"] == "3h" and len(fine["histogram"]) <= MAX_BUCKETS
    assert sum(b["count"] for b in fine["histogram"]) == result["total"]
    bad = api.client.post("/api/v1/events/search", json={**body, "q": "nosuchfield:1"})
    assert bad.status_code == 400


def test_one_occurrence_by_id_and_documents_without_histogram(api: ApiHarness) -> None:
    seed(api, 6)
    body = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-21T00:00:00Z", "size": 3}
    page = api.client.post("/api/v1/events/search", json={**body, "interval": "none"}).json()
    assert page["histogram"] == [] and page["interval"] == "none" and len(page["items"]) == 3
    listed = page["items"][1]
    reply = api.client.get(f"/api/v1/events/{listed['id']}")
    assert reply.status_code == 200, reply.text
    assert reply.json() == listed
    assert api.client.get("/api/v1/events/no-such-occurrence").status_code == 404


def test_repair_reports_round_trip(api: ApiHarness) -> None:
    (bug_id,) = seed(api, 1)
    for rnd, passed in ((1, False), (2, True)):
        reply = api.client.post(
            f"/api/v1/bugs/{bug_id}/repair-reports",
            json={
                "round": rnd,
                "analysis": f"round {rnd}",
                "passed": passed,
                "failure_reason": None if passed else "tests still failing: test_views.py::t",
            },
        )
        assert reply.status_code == 201, reply.text
    reports = api.client.get(f"/api/v1/bugs/{bug_id}/repair-reports").json()["reports"]
    assert [(r["round"], r["passed"]) for r in reports] == [(1, False), (2, True)]
    failed = api.client.get("/api/v1/repair-reports", params={"passed": "false"}).json()
    assert failed["total"] == 1
    assert failed["reports"][0]["failure_reason"].startswith("tests still failing")
    assert api.client.post("/api/v1/bugs/424242/repair-reports", json={}).status_code == 404


def test_repair_enqueue_dedup(sqlite_api: ApiHarness) -> None:
    (bug_id,) = seed(sqlite_api, 1)
    first = sqlite_api.client.post(f"/api/v1/bugs/{bug_id}/repairs")
    assert first.status_code == 202, first.text
    second = sqlite_api.client.post(f"/api/v1/bugs/{bug_id}/repairs")
    assert second.status_code == 409
    from agent.queue import repair_queue

    queue = repair_queue(sqlite_api.redis, sqlite_api.settings.redis_prefix)
    assert queue.job_ids.count(first.json()["job_id"]) == 1
    queue.empty()


# The refusals are the API's: one backend is enough (merging itself is the stores' contract).
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_merge_refuses_what_cannot_be_merged_and_names_why(api: ApiHarness) -> None:
    a, b, other = (
        api.report(project_id=p, line_number=n).json()["id"]
        for p, n in (("rtc_backend", 1), ("rtc_backend", 2), ("rtc_web", 3))
    )
    api.drain()
    api.store.update_bug(b, {"status": "PENDING_FIX"})  # its repair is queued

    def merge(target: int, body: dict[str, Any]) -> tuple[int, str]:
        reply = api.client.post(f"/api/v1/bugs/{target}/merge", json=body)
        return reply.status_code, reply.text

    refused = {
        "itself": merge(a, {"bug_ids": [a]}),
        "unknown": merge(a, {"bug_ids": [987654]}),
        "no ids": merge(a, {"bug_ids": []}),
        "too many": merge(a, {"bug_ids": list(range(1, 102))}),
        "too large": merge(a, {"bug_ids": [2**63]}),
        "unknown target": merge(987654, {"bug_ids": [a]}),
        "other project": merge(a, {"bug_ids": [other]}),
        "being repaired": merge(a, {"bug_ids": [b]}),
    }
    assert {why: status for why, (status, _) in refused.items()} == {
        "itself": 422, "unknown": 422, "no ids": 422, "too many": 422, "too large": 422,
        "unknown target": 404, "other project": 409, "being repaired": 409,
    }  # fmt: skip
    for why in ("itself", "unknown", "no ids", "too many", "too large"):
        assert '"bug_ids"' in refused[why][1], why
    assert "project" in refused["other project"][1]
    assert "PENDING_FIX" in refused["being repaired"][1]
    bug = api.client.get(f"/api/v1/bugs/{a}").json()
    assert bug["count"] == 1 and not bug["status_history"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_reports_admitted_under_a_merged_id_before_the_merge_land_on_the_target(
    api: ApiHarness,
) -> None:
    now = datetime.now(UTC).isoformat()  # within retention

    def report(line: int) -> int:
        return int(api.report(line_number=line, timestamp=now).json()["id"])

    a, b = report(1), report(2)
    api.drain()
    assert report(2) == b  # waits in the stream under bug b
    reply = api.client.post(f"/api/v1/bugs/{a}/merge", json={"bug_ids": [b]})
    assert reply.status_code == 200 and reply.json()["count"] == 2
    api.drain()
    assert api.client.get(f"/api/v1/bugs/{a}").json()["count"] == 3
    assert api.client.get(f"/api/v1/bugs/{a}/events").json()["total"] == 3
    assert api.client.get(f"/api/v1/bugs/{b}").status_code == 404
    assert bugs(api)["total"] == 1
