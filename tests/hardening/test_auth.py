"""The admin token on every write except reporting; reads behind it only when configured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.services import RedisServer
from bench.stack import guide_payload, running_stack, stack_env
from config.settings import create_admin_token
from tests.hardening.conftest import ADMIN_TOKEN
from tests.stack import ApiHarness

#: A channel the tests may save and send to (private addresses are allowed in their APIs).
HOOK = {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/hook"}
#: Every write operation and a request that succeeds with the token: (path, body, status).
#: `{bug}`, `{search}`, `{channel}` and `{rule}` are records of the test's own; a body's
#: `"channel_ids": "{channel}"` names its channel.
WRITES: dict[tuple[str, str], tuple[str, dict[str, Any] | None, int]] = {
    ("PUT", "/api/v1/projects/{project_id}"): (
        "/api/v1/projects/rtc_backend",
        {"description": "edited", "local_path": "/srv/rtc_backend"},
        200,
    ),
    ("PUT", "/api/v1/projects/{project_id}/toolchain"): (
        "/api/v1/projects/rtc_backend/toolchain",
        {"name": "pytest", "language": "python", "missing": []},
        200,
    ),
    ("PUT", "/api/v1/bugs/{bug_id}/status"): (
        "/api/v1/bugs/{bug}/status",
        {"status": "VERIFYING", "note": "looking"},
        200,
    ),
    ("POST", "/api/v1/bugs/{bug_id}/repairs"): ("/api/v1/bugs/{bug}/repairs", None, 202),
    ("POST", "/api/v1/bugs/{bug_id}/merge"): (
        "/api/v1/bugs/{bug}/merge",
        {"bug_ids": "{other}"},
        200,
    ),
    ("POST", "/api/v1/bugs/{bug_id}/repair-reports"): (
        "/api/v1/bugs/{bug}/repair-reports",
        {"round": 1, "analysis": "off by one", "passed": False},
        201,
    ),
    ("POST", "/api/v1/searches"): ("/api/v1/searches", {"name": "another"}, 201),
    ("PUT", "/api/v1/searches/{search_id}"): (
        "/api/v1/searches/{search}",
        {"name": "renamed", "q": "level:ERROR"},
        200,
    ),
    ("DELETE", "/api/v1/searches/{search_id}"): ("/api/v1/searches/{search}", None, 204),
    ("POST", "/api/v1/alerts/channels"): ("/api/v1/alerts/channels", {**HOOK, "name": "x"}, 201),
    ("PATCH", "/api/v1/alerts/channels/{channel_id}"): (
        "/api/v1/alerts/channels/{channel}",
        {"name": "renamed"},
        200,
    ),
    ("DELETE", "/api/v1/alerts/channels/{channel_id}"): (
        "/api/v1/alerts/channels/{channel}",
        None,
        204,
    ),
    ("POST", "/api/v1/alerts/channels/{channel_id}/test"): (
        "/api/v1/alerts/channels/{channel}/test",
        None,
        200,
    ),
    ("POST", "/api/v1/alerts/rules"): (
        "/api/v1/alerts/rules",
        {"name": "another", "triggers": ["regression"], "channel_ids": "{channel}"},
        201,
    ),
    ("PATCH", "/api/v1/alerts/rules/{rule_id}"): (
        "/api/v1/alerts/rules/{rule}",
        {"levels": ["FATAL"]},
        200,
    ),
    ("DELETE", "/api/v1/alerts/rules/{rule_id}"): ("/api/v1/alerts/rules/{rule}", None, 204),
}
#: Operations that are not admin writes: reporting (clients hold no token) and a search.
OPEN_POSTS = {
    ("POST", "/api/v1/logs/report"),
    ("POST", "/api/v1/events/search"),
    # Sentry SDKs: each project's DSN key guards them (tests/clients/test_sentry.py).
    ("POST", "/api/{project}/envelope/"),
    ("POST", "/api/{project}/store/"),
}

REFUSED = [
    pytest.param({}, 401, id="no-header"),
    pytest.param({"Authorization": f"Basic {ADMIN_TOKEN}"}, 401, id="basic-scheme"),
    pytest.param({"Authorization": "Bearer"}, 401, id="bearer-without-token"),
    pytest.param({"Authorization": "Bearer wrong-token"}, 403, id="wrong"),
    pytest.param({"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"}, 403, id="prefix"),
    pytest.param({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, 403, id="longer"),
    pytest.param({"Authorization": f"Bearer {ADMIN_TOKEN.upper()}"}, 403, id="other-case"),
]
GOOD = {"Authorization": f"bearer {ADMIN_TOKEN}"}


@pytest.fixture
def admin_api(make_api: Callable[..., ApiHarness], private_redis: RedisServer) -> ApiHarness:
    return make_api(redis=private_redis.url, admin_token=ADMIN_TOKEN, alerts_allow_private=True)


def new_bug(api: ApiHarness, line: int) -> int:
    reply = api.report(line_number=line)
    assert reply.status_code == 200, reply.text
    api.drain()
    bug_id: int = reply.json()["id"]
    return bug_id


def operations(api: ApiHarness) -> set[tuple[str, str]]:
    schema = api.client.get("/openapi.json").json()
    return {(m.upper(), path) for path, ops in schema["paths"].items() for m in ops}


def test_every_write_operation_is_covered(admin_api: ApiHarness) -> None:
    writes = {op for op in operations(admin_api) if op[0] != "GET"}
    assert writes == set(WRITES) | OPEN_POSTS


def own_records(api: ApiHarness, line: int) -> dict[str, int]:
    """Two bugs, a saved search, an alert channel and a rule of the test's own (made with the
    token), by placeholder name."""
    ids = {"bug": new_bug(api, line), "other": new_bug(api, line + 1000)}
    made = {
        "search": ("/api/v1/searches", {"name": f"search {line}"}),
        "channel": ("/api/v1/alerts/channels", {**HOOK, "name": f"hook {line}"}),
    }
    for name, (path, body) in made.items():
        reply = api.client.post(path, json=body, headers=GOOD)
        assert reply.status_code == 201, reply.text
        ids[name] = reply.json()["id"]
    rule = {"name": f"rule {line}", "triggers": ["new_bug"], "channel_ids": [ids["channel"]]}
    reply = api.client.post("/api/v1/alerts/rules", json=rule, headers=GOOD)
    assert reply.status_code == 201, reply.text
    return {**ids, "rule": reply.json()["id"]}


def filled(body: dict[str, Any] | None, ids: dict[str, int]) -> dict[str, Any] | None:
    if body is not None and body.get("channel_ids") == "{channel}":
        return {**body, "channel_ids": [ids["channel"]]}
    if body is not None and body.get("bug_ids") == "{other}":
        return {**body, "bug_ids": [ids["other"]]}
    return body


def _state(api: ApiHarness, bug_id: int) -> tuple[Any, ...]:
    bug = api.client.get(f"/api/v1/bugs/{bug_id}").json()
    project = api.client.get("/api/v1/projects/rtc_backend").json()
    reports = api.client.get(f"/api/v1/bugs/{bug_id}/repair-reports").json()["reports"]
    lists = [
        api.client.get(path, headers=GOOD).json()
        for path in (
            "/api/v1/searches",
            "/api/v1/alerts/channels",
            "/api/v1/alerts/rules",
            "/api/v1/alerts/deliveries",
        )
    ]
    return (
        bug["status"],
        bug["count"],
        len(bug["history"]) if "history" in bug else None,
        project["description"],
        project["local_path"],
        project["toolchain"],
        len(reports),
        *(repr(found) for found in lists),
    )


@pytest.mark.parametrize("operation", list(WRITES), ids=lambda op: f"{op[0]} {op[1]}")
def test_write_needs_the_admin_token(admin_api: ApiHarness, operation: tuple[str, str]) -> None:
    ids = own_records(admin_api, 100 + list(WRITES).index(operation))
    bug_id = ids["bug"]
    path, body, expected = WRITES[operation]
    url, body = path.format(**ids), filled(body, ids)
    method = operation[0]
    before = _state(admin_api, bug_id)
    for case in REFUSED:
        headers, status = case.values
        reply = admin_api.client.request(method, url, json=body, headers=headers)
        assert reply.status_code == status, (case.id, reply.text)
        assert reply.json()["detail"]
        if status == 401:
            assert reply.headers["www-authenticate"] == "Bearer"
    # Nothing changed by the refused requests (and nothing queued: the first good enqueue
    # below is a 202, not a 409).
    assert _state(admin_api, bug_id) == before

    reply = admin_api.client.request(method, url, json=body, headers=GOOD)
    assert reply.status_code == expected, reply.text
    if url.endswith("/repairs"):
        assert reply.json()["bug_id"] == bug_id
        again = admin_api.client.request(method, url, headers=GOOD)
        assert again.status_code == 409, "the accepted request queued the repair"
    else:
        assert _state(admin_api, bug_id) != before


#: Reads that are configuration, not data: alert channels name webhook hosts.
ADMIN_READS = "/api/v1/alerts/"


def test_reports_and_reads_stay_open_with_an_admin_token(admin_api: ApiHarness) -> None:
    paths = read_paths(admin_api, own_records(admin_api, 7))
    assert any(ADMIN_READS in path for path in paths)
    for path in paths:
        reply = read(admin_api, path, {})
        expected = 401 if ADMIN_READS in path else 200
        assert reply.status_code == expected, (path, reply.text)
        assert read(admin_api, path, GOOD).status_code == 200, path


@pytest.fixture
def reader_api(make_api: Callable[..., ApiHarness], private_redis: RedisServer) -> ApiHarness:
    return make_api(
        redis=private_redis.url,
        admin_token=ADMIN_TOKEN,
        read_requires_token=True,
        alerts_allow_private=True,
    )


def read_paths(api: ApiHarness, ids: dict[str, int]) -> list[str]:
    """Every GET under /api/v1 (from the schema) with real ids, plus the events search."""
    # An occurrence of today (the guide's example is older than the retention keeps).
    assert api.report(line_number=999, timestamp=None).status_code == 200
    api.drain()
    found = api.client.post("/api/v1/events/search", json={"size": 1}, headers=GOOD).json()
    names = {
        "bug_id": ids["bug"],
        "project_id": "rtc_backend",
        "search_id": ids["search"],
        "channel_id": ids["channel"],
        "rule_id": ids["rule"],
        "event_id": found["items"][0]["id"],
    }
    paths = [
        p.format(**names) for m, p in operations(api) if m == "GET" and p.startswith("/api/v1/")
    ]
    return [*sorted(paths), "POST /api/v1/events/search"]


def read(api: ApiHarness, path: str, headers: dict[str, str]) -> Any:
    if path.startswith("POST "):
        return api.client.post(path[5:], json={"q": "ValueError"}, headers=headers)
    return api.client.get(path, headers=headers)


def test_read_requires_token_guards_every_read(reader_api: ApiHarness) -> None:
    reply = reader_api.report(line_number=9)
    assert reply.status_code == 200, "reporting never needs a token"
    paths = read_paths(reader_api, own_records(reader_api, 10))
    assert len(paths) >= 8
    for path in paths:
        for case in REFUSED:
            headers, status = case.values
            denied = read(reader_api, path, headers)
            assert denied.status_code == status, (path, case.id, denied.text)
            assert "rtc_backend" not in denied.text and "ValueError" not in denied.text
        allowed = read(reader_api, path, GOOD)
        assert allowed.status_code == 200, (path, allowed.text)
    # Probes and the docs stay reachable for load balancers and people.
    for open_path in ("/healthz", "/readyz", "/docs", "/openapi.json"):
        assert reader_api.client.get(open_path).status_code == 200, open_path


def test_report_needs_no_token_even_with_every_guard_on(reader_api: ApiHarness) -> None:
    reply = reader_api.client.post("/api/v1/logs/report", json=guide_payload())
    assert reply.status_code == 200
    assert reply.json()["message"] == "Log reported"


def test_without_a_token_writes_are_refused_unless_anonymous_writes_opens_them(
    make_api: Callable[..., ApiHarness],
) -> None:
    closed = make_api(anonymous_writes=False)
    bug_id = new_bug(closed, 11)
    before = _state(closed, bug_id)
    # Nothing can be made without a token: the other records' ids are never reached.
    ids = {"bug": bug_id, "other": 1, "search": 1, "channel": 1, "rule": 1}
    for (method, _), (path, body, _) in WRITES.items():
        reply = closed.client.request(method, path.format(**ids), json=filled(body, ids))
        assert reply.status_code == 401, (path, reply.text)
        assert "LOGCENTER_ADMIN_TOKEN" in reply.json()["detail"]
    assert _state(closed, bug_id) == before
    assert closed.report(line_number=12).status_code == 200, "reporting stays open"

    opened = make_api(anonymous_writes=True)
    assert opened.client.put("/api/v1/projects/p", json={"description": "x"}).status_code == 200
    # A token, once set, is needed whatever LOGCENTER_ANONYMOUS_WRITES says.
    both = make_api(admin_token=ADMIN_TOKEN, anonymous_writes=True)
    assert both.client.put("/api/v1/projects/p", json={"description": "x"}).status_code == 401


def test_a_standalone_api_without_a_token_refuses_writes_and_says_how_to_set_one(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """`logcenter api` with neither LOGCENTER_ADMIN_TOKEN, nor a token in its data dir, nor
    LOGCENTER_ANONYMOUS_WRITES: reports land, changes get a 401 that names the ways out."""
    env = stack_env(redis_url, redis_prefix, admin_token="", anonymous_writes="false")
    path, edit = "/api/v1/projects/rtc_backend", {"description": "edited"}
    with running_stack(tmp_path / "bare", env, indexers=0) as stack:
        assert stack.report().status_code == 200
        for headers in ({}, {"Authorization": "Bearer any-token-at-all"}):
            refused = stack.client.put(path, json=edit, headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
            detail = refused.json()["detail"]
            for fix in ("LOGCENTER_ADMIN_TOKEN", "logcenter token", "LOGCENTER_ANONYMOUS_WRITES"):
                assert fix in detail, fix

    # The token kept in the data dir (as `logcenter up` leaves it) is the API's token.
    token = create_admin_token(tmp_path / "kept")
    with running_stack(tmp_path / "kept", env, indexers=0) as stack:
        assert stack.client.put(path, json=edit).status_code == 401
        good = {"Authorization": f"Bearer {token}"}
        assert stack.client.put(path, json=edit, headers=good).status_code == 200


#: The dashboard's own routes (Dash's are its pages, layout, callbacks and assets): each reads
#: API data with the browser's token, never with a token of its own.
DASHBOARD_ROUTES = {
    "/download/<kind>.<fmt>": ["/download/events.csv?range=7d", "/download/bugs.ndjson?status=NEW"]
}
DASH_OWN = ("/_dash-", "/_favicon", "/_reload", "/assets/", "/static/", "/<path:path>")


def test_dashboard_downloads_pass_on_the_browsers_token_and_nothing_else(
    reader_api: ApiHarness,
) -> None:
    from dashboards.api import CONFIG_KEY
    from dashboards.app import create_app
    from dashboards.download import TOKEN_COOKIE

    assert reader_api.report(line_number=12, timestamp=None).status_code == 200
    reader_api.drain()
    app = create_app(reader_api.settings)
    own = {r.rule for r in app.server.url_map.iter_rules()} - {"/"}
    assert {r for r in own if not r.startswith(DASH_OWN)} == set(DASHBOARD_ROUTES)
    # The dashboard's client as create_app made it (no token of its own), answered in-process.
    client = app.server.config[CONFIG_KEY]
    client._http = reader_api.client  # noqa: SLF001
    browser = app.server.test_client()
    for path in (p for paths in DASHBOARD_ROUTES.values() for p in paths):
        for case in REFUSED:
            headers, status = case.values
            denied = browser.get(path, headers=headers)
            assert denied.status_code == status, (path, case.id, denied.text)
            assert "ValueError" not in denied.text
        assert browser.get(path, headers=GOOD).status_code == 200, path
        browser.set_cookie(TOKEN_COOKIE, "wrong-token", path="/download")
        assert browser.get(path).status_code == 403, path
        browser.set_cookie(TOKEN_COOKIE, ADMIN_TOKEN, path="/download")
        allowed = browser.get(path)
        assert allowed.status_code == 200 and "ValueError" in allowed.text, (path, allowed.text)
        browser.delete_cookie(TOKEN_COOKIE, path="/download")
