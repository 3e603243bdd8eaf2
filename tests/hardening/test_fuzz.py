"""Hostile input: random report bodies and random Lucene-ish queries never make a 500, and what
the API accepted can always be indexed."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.stack import guide_payload
from store.lucene import ALIASES, BUG_FIELDS, EVENT_FIELDS
from tests.stack import ApiHarness

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

# -- report bodies ----------------------------------------------------------------------------

huge_ints = st.integers(min_value=-(2**80), max_value=2**80) | st.sampled_from(
    [2**31, 2**63, -(2**63) - 1, 10**30]
)
scalars = (
    st.none()
    | st.booleans()
    | huge_ints
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=25,
)
FIELDS = [
    ("project_id",),
    ("environment",),
    ("level",),
    ("source",),
    ("timestamp",),
    ("version",),
    ("commit_hash",),
    ("repo_url",),
    ("error",),
    ("error", "type"),
    ("error", "message"),
    ("error", "file_path"),
    ("error", "line_number"),
    ("error", "stack_trace"),
    ("context",),
]
mutation = st.tuples(
    st.sampled_from(FIELDS),
    st.sampled_from(["drop", "value", "text", "context"]),
    json_values,
    st.text(min_size=1, max_size=40),
)


def mutate(payload: dict[str, Any], change: tuple[Any, ...]) -> None:
    path, how, value, text = change
    *parents, name = path
    target = payload
    for key in parents:
        if not isinstance(target.get(key), dict):
            return
        target = target[key]
    if how == "drop":
        target.pop(name, None)
    elif how == "value":
        target[name] = value
    elif how == "text":
        target[name] = text
    else:
        payload["context"] = {"nested": value, text: [value, {"deep": value}]}


@st.composite
def report_bodies(draw: st.DrawFn) -> bytes:
    payload = guide_payload(timestamp=None)
    for change in draw(st.lists(mutation, max_size=4)):
        mutate(payload, change)
    return json.dumps(payload, ensure_ascii=draw(st.booleans()), default=str).encode()


raw_bodies = st.binary(max_size=200) | st.text(max_size=200).map(str.encode)


def check_reply(reply: Any) -> int | None:
    """A 200 with an id, or a 4xx whose body says what is wrong; never a 5xx."""
    assert reply.status_code < 500, reply.text
    body = reply.json()
    if reply.status_code == 200:
        assert isinstance(body["id"], int) and body["message"].startswith("Log ")
        bug_id: int = body["id"]
        return bug_id
    assert reply.status_code in (400, 413, 415, 422), reply.text
    if reply.status_code == 422:
        assert body["detail"] and all(e["field"] and e["msg"] for e in body["detail"])
        assert all(e["field"] in body["message"] for e in body["detail"])
    else:
        assert "body" in body["detail"]
    return None


def test_random_report_bodies_get_200_or_a_named_4xx(api: ApiHarness) -> None:
    accepted: Counter[int] = Counter()

    @FUZZ
    @given(body=report_bodies() | raw_bodies)
    def post(body: bytes) -> None:
        reply = api.client.post(
            "/api/v1/logs/report", content=body, headers={"content-type": "text/plain"}
        )
        bug_id = check_reply(reply)
        if bug_id is not None:
            accepted[bug_id] += 1

    post()
    assert accepted, "some random bodies are valid reports"
    # Whatever the API acknowledged, the indexer can store: nothing poisons the stream.
    api.drain(timeout=120)
    for bug_id, n in accepted.items():
        bug = api.client.get(f"/api/v1/bugs/{bug_id}")
        assert bug.status_code == 200, (bug_id, bug.text)
        assert bug.json()["count"] == n


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"])
def test_timestamp_at_the_edge_of_time_is_a_named_422(sqlite_api: ApiHarness, stamp: str) -> None:
    reply = sqlite_api.client.post("/api/v1/logs/report", json=guide_payload(timestamp=stamp))
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["field"] == "timestamp"


# -- query strings ----------------------------------------------------------------------------

NAMES = sorted({*BUG_FIELDS, *EVENT_FIELDS, *ALIASES, "unknown_field", "_exists_", "*"})
TOKENS = [
    *("AND", "OR", "NOT", "TO", "&&", "||", "!", "-", "+", "(", ")", "[", "]", "{", "}"),
    *("*", "?", "~", "~2", "^3", '"', ":", "\\", "/", "/a.*/", ">", "<=", "now", "now-5d"),
    *("now-99999999999d", "2026-01-01", "9999-12-31", "0001-01-01", "-1", "1e5", "0x1f"),
    *("99999999999999999999999", "ValueError", "连接", "ｆｕｌｌ", "\x00", "\u202e", "'", ";"),
]
atoms = (
    st.sampled_from(NAMES).map(lambda name: f"{name}:")
    | st.sampled_from(TOKENS)
    | st.text(max_size=6)
    | huge_ints.map(str)
)
queries = st.tuples(st.lists(atoms, max_size=10), st.sampled_from([" ", ""])).map(
    lambda parts: parts[1].join(parts[0])
)


def check_query_reply(reply: Any) -> None:
    assert reply.status_code in (200, 400), reply.text
    if reply.status_code == 400:
        assert reply.json()["detail"].startswith("q: "), reply.text


def test_random_queries_are_answered_or_refused_never_500(api: ApiHarness) -> None:
    for n in range(5):
        base = guide_payload(timestamp=None, line_number=n, message=f"连接 timeout {n}")
        assert api.report(copy.deepcopy(base)).status_code == 200
    api.drain()

    @FUZZ
    @given(q=queries)
    def search(q: str) -> None:
        check_query_reply(api.client.get("/api/v1/bugs", params={"q": q}))
        check_query_reply(api.client.post("/api/v1/events/search", json={"q": q}))

    search()
