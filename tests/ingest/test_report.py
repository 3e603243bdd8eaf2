"""The report endpoint as clients written against the integration guide use it."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from bench.stack import guide_payload
from ingest.app import create_app
from tests.stack import ApiHarness, settings_for


def md5(*parts: object) -> str:
    return hashlib.md5("|".join(str(p) for p in parts).encode()).hexdigest()


JS_PAYLOAD: dict[str, Any] = {
    "project_id": "rtc_web",
    "environment": "production",
    "level": "ERROR",
    "error": {
        "type": "TypeError",
        "message": "Cannot read properties of undefined (reading 'id')",
        "file_path": "http://localhost:5173/src/api/request.ts?t=1706601000",
        "line_number": 17,
        "stack_trace": [
            "TypeError: Cannot read properties of undefined (reading 'id')",
            "    at handle (http://localhost:5173/src/api/request.ts?t=1706601000:17:9)",
            "    at async load (http://localhost:5173/src/views/User.vue:40:3)",
        ],
    },
    "context": {
        "url": "http://localhost:5173/users/1",
        "userAgent": "Mozilla/5.0",
        "status": 500,
        "method": "get",
    },
}

DART_PAYLOAD: dict[str, Any] = {
    "project_id": "airhub_app",
    "environment": "development",
    "level": "ERROR",
    "repo_url": "https://gitea.example.com/team/airhub_app.git",
    "error": {
        "type": "_TypeError",
        "message": "Null check operator used on a null value",
        "file_path": "package:airhub_app/main.dart",
        "line_number": 23,
        "stack_trace": [
            "#0      main (package:airhub_app/main.dart:23:7)",
            "#1      _runMain (dart:ui/hooks.dart:301:3)",
        ],
    },
    "context": {},
}


def test_new_then_deduplicated_replies_are_exact(api: ApiHarness) -> None:
    first = api.report()
    assert first.status_code == 200
    assert first.json() == {"message": "Log reported", "id": first.json()["id"]}
    assert isinstance(first.json()["id"], int)
    again = api.report()
    assert again.json() == {
        "message": "Log deduplicated",
        "id": first.json()["id"],
        "status": "NEW",
    }


@pytest.mark.parametrize(
    "payload", [guide_payload(), JS_PAYLOAD, DART_PAYLOAD], ids=["python", "javascript", "dart"]
)
def test_guide_clients_land_as_bugs(api: ApiHarness, payload: dict[str, Any]) -> None:
    reply = api.client.post("/api/v1/logs/report", json=payload)
    assert reply.status_code == 200, reply.text
    api.drain()
    bug = api.client.get(f"/api/v1/bugs/{reply.json()['id']}").json()
    err = payload["error"]
    assert bug["fingerprint"] == md5(
        payload["project_id"], err["type"], err["file_path"], err["line_number"]
    )
    assert (bug["error_type"], bug["message"], bug["count"]) == (err["type"], err["message"], 1)
    assert bug["stack_trace"] == err["stack_trace"]
    assert bug["source"] == "runtime"


def test_send_beacon_text_plain_body(sqlite_api: ApiHarness) -> None:
    reply = sqlite_api.client.post(
        "/api/v1/logs/report",
        content=orjson.dumps(JS_PAYLOAD),
        headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://localhost:5173"},
    )
    assert reply.status_code == 200
    assert reply.json()["message"] == "Log reported"
    assert reply.headers["access-control-allow-origin"] in ("*", "http://localhost:5173")


def test_cors_preflight_allows_cross_origin_fetch(sqlite_api: ApiHarness) -> None:
    reply = sqlite_api.client.options(
        "/api/v1/logs/report",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] in ("*", "https://app.example.com")
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert "content-type" in reply.headers["access-control-allow-headers"].lower()


def test_cors_on_the_report_itself(sqlite_api: ApiHarness) -> None:
    reply = sqlite_api.client.post(
        "/api/v1/logs/report", json=guide_payload(), headers={"Origin": "https://app.example.com"}
    )
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == "*"
    assert reply.headers["vary"] == "Origin"
    no_origin = sqlite_api.client.post("/api/v1/logs/report", json=guide_payload())
    assert "access-control-allow-origin" not in no_origin.headers


def test_cors_with_a_list_of_origins(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    settings = settings_for(
        tmp_path,
        redis_url,
        redis_prefix,
        store_url=f"sqlite:///{tmp_path / 'cors.db'}",
        cors_origins=["https://app.example.com"],
    )
    with ApiHarness(settings) as api:
        allowed = api.client.post(
            "/api/v1/logs/report",
            json=guide_payload(),
            headers={"Origin": "https://app.example.com"},
        )
        other = api.client.post(
            "/api/v1/logs/report", json=guide_payload(), headers={"Origin": "https://evil.example"}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert allowed.headers["vary"] == "Origin"
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers


def test_served_shortcut_answers_as_the_documented_route(
    sqlite_api: ApiHarness, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """`logcenter api` answers reports ahead of FastAPI (ingest.fastpath); the FastAPI route
    (create_app alone, on its own empty store and keys) must give byte-identical replies for
    every kind of request."""
    other = settings_for(
        tmp_path, redis_url, f"{redis_prefix}route:", store_url=f"sqlite:///{tmp_path / 'r.db'}"
    )
    big = orjson.dumps(guide_payload(message="x" * (1024 * 1024 + 10)))
    cases: list[tuple[bytes, dict[str, str]]] = [
        (orjson.dumps(guide_payload(line_number=901)), {}),
        (orjson.dumps(guide_payload(line_number=901)), {}),
        (b"{not json", {}),
        (orjson.dumps(guide_payload(level=3)), {}),
        (big, {}),
        (gzip.compress(orjson.dumps(guide_payload(line_number=902))), {"Content-Encoding": "gzip"}),
        (b"{}", {"Content-Encoding": "br"}),
        (orjson.dumps(guide_payload(line_number=901)), {"Content-Type": "text/plain"}),
        (orjson.dumps(guide_payload(line_number=901)), {"Origin": "https://app.example.com"}),
        (b"{}", {"Origin": "https://app.example.com", "Cookie": "sid=1"}),
        (orjson.dumps(guide_payload(source="cicd", job_name="build", step_name="lint")), {}),
        (orjson.dumps(guide_payload(source="cicd", context={"job_name": "build"})), {}),
        (orjson.dumps(guide_payload(source="deployment", namespace=7)), {}),
    ]
    statuses = set()
    with TestClient(create_app(other)) as route:
        for body, headers in cases:
            served = sqlite_api.client.post("/api/v1/logs/report", content=body, headers=headers)
            plain = route.post("/api/v1/logs/report", content=body, headers=headers)
            assert (served.status_code, served.content) == (plain.status_code, plain.content)
            for name in ("content-type", "access-control-allow-origin", "vary"):
                assert served.headers.get(name) == plain.headers.get(name), (name, headers)
            statuses.add(served.status_code)
    assert statuses == {200, 400, 413, 415, 422}


def test_gzip_body(sqlite_api: ApiHarness) -> None:
    body = gzip.compress(orjson.dumps(guide_payload()))
    reply = sqlite_api.client.post(
        "/api/v1/logs/report",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert reply.status_code == 200
    assert reply.json()["message"] == "Log reported"


def test_stack_trace_as_string_is_split_into_lines(sqlite_api: ApiHarness) -> None:
    payload = guide_payload(stack_trace="Traceback (most recent call last):\n  File x\nKeyError")
    reply = sqlite_api.client.post("/api/v1/logs/report", json=payload)
    sqlite_api.drain()
    bug = sqlite_api.client.get(f"/api/v1/bugs/{reply.json()['id']}").json()
    assert bug["stack_trace"] == ["Traceback (most recent call last):", "  File x", "KeyError"]


def test_python_format_exception_chunks_become_lines(sqlite_api: ApiHarness) -> None:
    chunks = [
        "Traceback (most recent call last):\n",
        '  File "/srv/app/views.py", line 9, in f\n    int("x")\n',
        "ValueError: bad\n",
    ]
    reply = sqlite_api.client.post("/api/v1/logs/report", json=guide_payload(stack_trace=chunks))
    sqlite_api.drain()
    bug = sqlite_api.client.get(f"/api/v1/bugs/{reply.json()['id']}").json()
    assert bug["stack_trace"] == [
        "Traceback (most recent call last):",
        '  File "/srv/app/views.py", line 9, in f',
        '    int("x")',
        "ValueError: bad",
    ]


@pytest.mark.parametrize("source", ["runtime", "cicd", "deployment"])
@pytest.mark.parametrize(
    "missing",
    [
        "project_id",
        "environment",
        "level",
        "error",
        "error.type",
        "error.message",
        "error.stack_trace",
        "error.file_path",
        "error.line_number",
    ],
)
def test_required_fields_per_source(sqlite_api: ApiHarness, source: str, missing: str) -> None:
    payload = guide_payload(source=source)
    target, _, name = missing.rpartition(".")
    del (payload[target] if target else payload)[name]
    reply = sqlite_api.client.post("/api/v1/logs/report", json=payload)
    optional = source != "runtime" and missing in ("error.file_path", "error.line_number")
    if optional:
        assert reply.status_code == 200, reply.text
    else:
        assert reply.status_code == 422, reply.text
        assert missing in reply.json()["message"]
        assert any(e["field"] == missing for e in reply.json()["detail"])


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"source": "mobile"}, "source"),
        ({"line_number": "forty"}, "error.line_number"),
        ({"context": ["not", "an", "object"]}, "context"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"project_id": 42}, "project_id"),
        ({"stack_trace": 7}, "error.stack_trace"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    sqlite_api: ApiHarness, patch: dict[str, Any], field: str
) -> None:
    reply = sqlite_api.client.post("/api/v1/logs/report", json=guide_payload(**patch))
    assert reply.status_code == 422
    assert any(e["field"].startswith(field) for e in reply.json()["detail"]), reply.json()


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b"[1, 2"])
def test_unparsable_json_is_400(sqlite_api: ApiHarness, body: bytes) -> None:
    reply = sqlite_api.client.post(
        "/api/v1/logs/report", content=body, headers={"Content-Type": "application/json"}
    )
    assert reply.status_code in (400, 422)
    if body.startswith(b"[1"):
        assert reply.status_code == 400
    assert "detail" in reply.json()


def test_body_over_limit_is_413(sqlite_api: ApiHarness) -> None:
    payload = guide_payload(message="x" * (1024 * 1024 + 10))
    reply = sqlite_api.client.post("/api/v1/logs/report", json=payload)
    assert reply.status_code == 413
    assert "limit" in reply.json()["detail"]


def test_gzip_bomb_is_413(sqlite_api: ApiHarness) -> None:
    body = gzip.compress(b'{"a": "' + b"0" * (3 * 1024 * 1024) + b'"}')
    reply = sqlite_api.client.post(
        "/api/v1/logs/report", content=body, headers={"Content-Encoding": "gzip"}
    )
    assert reply.status_code == 413


@pytest.mark.parametrize(
    ("source", "context", "parts"),
    [
        (
            "cicd",
            {"job_name": "build", "step_name": "pytest"},
            ["rtc_backend", "cicd", "ValueError", "build", "pytest"],
        ),
        (
            "deployment",
            {"namespace": "prod", "deployment_name": "rtc-api"},
            ["rtc_backend", "deployment", "ValueError", "prod", "rtc-api"],
        ),
    ],
)
def test_fingerprints_for_cicd_and_deployment(
    api: ApiHarness, source: str, context: dict[str, str], parts: list[str]
) -> None:
    reply = api.client.post(
        "/api/v1/logs/report", json=guide_payload(source=source, context=context)
    )
    api.drain()
    bug = api.client.get(f"/api/v1/bugs/{reply.json()['id']}").json()
    assert bug["fingerprint"] == md5(*parts)
    # Another line number does not matter for these sources: same bug.
    again = api.client.post(
        "/api/v1/logs/report", json=guide_payload(source=source, context=context, line_number=99)
    )
    assert again.json()["id"] == reply.json()["id"]


def test_a_client_fingerprint_groups_and_default_stands_for_the_formula(
    sqlite_api: ApiHarness,
) -> None:
    api = sqlite_api

    def sent(line: int, fingerprint: list[str] | None = None) -> dict[str, Any]:
        extra = {} if fingerprint is None else {"fingerprint": fingerprint}
        reply = api.report(line_number=line, **extra)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    # One list, one bug, whatever the line.
    first, second = sent(10, ["checkout-timeout"]), sent(20, ["checkout-timeout"])
    assert second == {"message": "Log deduplicated", "id": first["id"], "status": "NEW"}
    # `{{ default }}` is the formula's fingerprint: the line splits again, and so does a tenant.
    tenant_a = sent(30, ["{{ default }}", "tenant-a"])
    ids = {
        tenant_a["id"],
        sent(30, ["{{default}}", "tenant-b"])["id"],
        sent(31, ["{{ default }}", "tenant-a"])["id"],
        sent(30)["id"],
        first["id"],
    }
    assert len(ids) == 5
    assert sent(30, ["{{ default }}", "tenant-a"])["id"] == tenant_a["id"]
    api.drain()
    bug = api.client.get(f"/api/v1/bugs/{tenant_a['id']}").json()
    formula = md5("rtc_backend", "ValueError", "apps/users/views.py", "30")
    assert bug["fingerprint"] == md5("rtc_backend", "fingerprint", formula, "tenant-a")
    for bad in ([], [""] * 21, [7]):
        refused = api.report(fingerprint=bad)
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"].startswith(
            "fingerprint"
        )


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("cicd", {"job_name": "build", "step_name": "pytest"}),
        ("deployment", {"namespace": "prod", "deployment_name": "rtc-api"}),
    ],
)
def test_place_names_at_the_top_level_count_like_context(
    api: ApiHarness, source: str, names: dict[str, str]
) -> None:
    """The guide does not say where job_name & co. go: both places give the same bug, the names
    are kept in the stored context, and the top level wins over context."""
    (first, second) = names

    def report(**fields: Any) -> dict[str, Any]:
        reply = api.report(guide_payload(source=source, timestamp=None, **fields))
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    top = report(context={"url": "/ci"}, **names)
    in_context = report(context=names)
    assert in_context == {"message": "Log deduplicated", "id": top["id"], "status": "NEW"}
    both = report(context={first: "ignored", second: names[second]}, **{first: names[first]})
    assert both["id"] == top["id"]
    other = report(**{**names, first: "another"})
    assert other["message"] == "Log reported"
    api.drain()
    bug = api.client.get(f"/api/v1/bugs/{top['id']}").json()
    assert bug["fingerprint"] == md5("rtc_backend", source, "ValueError", *names.values())
    assert bug["context"] == {"url": "/ci", **names}
    events = api.client.get(f"/api/v1/bugs/{top['id']}/events").json()["items"]
    assert [e["context"][first] for e in events] == [names[first]] * 3


def test_place_names_of_the_wrong_type_are_422(sqlite_api: ApiHarness) -> None:
    reply = sqlite_api.report(guide_payload(source="cicd", job_name=["build"]))
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["field"] == "job_name"


def test_timestamp_optional_uses_server_time(sqlite_api: ApiHarness) -> None:
    payload = guide_payload()
    del payload["timestamp"]
    reply = sqlite_api.client.post("/api/v1/logs/report", json=payload)
    sqlite_api.drain()
    bug = sqlite_api.client.get(f"/api/v1/bugs/{reply.json()['id']}").json()
    assert bug["first_seen"][:4] >= "2026"
    assert bug["first_seen"] != "2026-01-30T10:30:00Z"


def test_project_auto_registration_and_repo_url_rules(api: ApiHarness) -> None:
    api.report(repo_url="")
    api.drain()
    project = api.client.get("/api/v1/projects/rtc_backend").json()
    assert project["project_id"] == "rtc_backend" and project["repo_url"] is None
    api.report(repo_url="https://git.example.com/a.git", line_number=2)
    api.drain()
    assert api.client.get("/api/v1/projects/rtc_backend").json()["repo_url"] == (
        "https://git.example.com/a.git"
    )
    put = api.client.put(
        "/api/v1/projects/rtc_backend", json={"repo_url": "https://git.example.com/person-set.git"}
    )
    assert put.status_code == 200
    api.report(repo_url="https://git.example.com/other.git", line_number=3)
    api.drain()
    assert api.client.get("/api/v1/projects/rtc_backend").json()["repo_url"] == (
        "https://git.example.com/person-set.git"
    )
    listing = api.client.get("/api/v1/projects").json()
    assert [p["project_id"] for p in listing["projects"]] == ["rtc_backend"]
    assert isinstance(listing["projects"][0]["id"], int)


def test_regression_reopens_fixed_bug(api: ApiHarness) -> None:
    bug_id = api.report().json()["id"]
    api.drain()
    for status in ("VERIFYING", "PENDING_FIX", "FIXING", "FIXED"):
        assert (
            api.client.put(f"/api/v1/bugs/{bug_id}/status", json={"status": status}).status_code
            == 200
        )
    assert api.report().json() == {"message": "Log deduplicated", "id": bug_id, "status": "NEW"}
    api.drain()
    bug = api.client.get(f"/api/v1/bugs/{bug_id}").json()
    assert bug["status"] == "NEW"
    assert bug["regression_count"] == 1
    assert bug["count"] == 2
    last = bug["status_history"][-1]
    assert (last["from"], last["to"]) == ("FIXED", "NEW")
    assert "regression" in last["reason"]


def test_grouping_stack_keeps_one_bug_when_lines_above_move(sqlite_api: ApiHarness) -> None:
    api = sqlite_api
    stack = [
        "Traceback (most recent call last):",
        '  File "/srv/venv/lib/python3.11/site-packages/django/core/handlers/base.py", '
        "line {lib}, in _get_response",
        '  File "/srv/app/apps/users/views.py", line {view}, in get_user',
        '  File "/srv/app/apps/users/ids.py", line {line}, in parse_id',
        "ValueError: invalid literal for int() with base 10: '{value}'",
    ]

    def sent(project: str, line: int, value: str = "abc", **more: Any) -> int:
        lines = [s.format(lib=197, view=line - 30, line=line, value=value) for s in stack]
        message = f"invalid literal for int() with base 10: '{value}'"
        payload = guide_payload(
            project_id=project, line_number=line, stack_trace=lines, message=message, **more
        )
        reply = api.client.post("/api/v1/logs/report", json=payload)
        assert reply.status_code == 200, reply.text
        return int(reply.json()["id"])

    put = api.client.put("/api/v1/projects/moved", json={"grouping": "stack"})
    assert put.status_code == 200 and put.json()["grouping"] == "stack"
    # Edits above the raise move every line; the message differs: still one bug.
    assert len({sent("moved", 42), sent("moved", 57, value="xyz"), sent("moved", 61)}) == 1
    assert len({sent("stayed", 42), sent("stayed", 57)}) == 2  # the default: by line
    # Another function, or another error type, is another bug.
    first = sent("moved", 42)
    stack = [line.replace("parse_id", "parse_uid") for line in stack]
    renamed = sent("moved", 42)
    assert renamed != first and sent("moved", 57) == renamed
    assert sent("moved", 42, type="KeyError") != renamed
    # Without a stack, the message groups.
    stack = ["ValueError: {value}"]
    assert sent("moved", 1, value="a") == sent("moved", 2, value="a") != sent("moved", 3, value="b")

    # Changing the grouping applies to what comes next; bugs made so far stay as they are.
    api.client.put("/api/v1/projects/moved", json={"grouping": ""})
    stack = ["ValueError: {value}"]
    assert sent("moved", 1, value="a") != sent("moved", 2, value="a")
    bad = api.client.put("/api/v1/projects/moved", json={"grouping": "function"})
    assert bad.status_code == 422


def test_grouping_stack_of_sentry_events_reads_their_in_app_frames(
    sqlite_api: ApiHarness,
) -> None:
    api = sqlite_api

    def send(project: dict[str, Any], line: int, library: str) -> None:
        frames = [
            {"filename": "app:///static/js/main.3f2a1c.js", "function": "CartTotal",
             "lineno": line - 3, "in_app": True},
            {"filename": "app:///static/js/main.3f2a1c.js", "function": "lineTotal",
             "lineno": line, "in_app": True},
            {"filename": f"app:///static/js/{library}.js", "function": "r", "lineno": 2},
        ]  # fmt: skip
        event = {"exception": {"values": [
            {"type": "TypeError", "value": "x", "stacktrace": {"frames": frames}}]}}  # fmt: skip
        url = f"/api/{project['id']}/store/?sentry_key={project['public_key']}"
        assert api.client.post(url, json=event).status_code == 200

    counts = {}
    for name, grouping in (("by_stack", "stack"), ("by_line", "line")):
        project = api.client.put(f"/api/v1/projects/{name}", json={"grouping": grouping}).json()
        # A new build moves lines and swaps a library: the application's frames stay.
        send(project, 120, "react-dom")
        send(project, 133, "preact")
        api.drain()
        bugs = api.client.get("/api/v1/bugs", params={"project_id": name}).json()["items"]
        counts[name] = sorted(b["count"] for b in bugs)
    assert counts == {"by_stack": [2], "by_line": [1, 1]}
