"""Secrets never reach Redis or the store; over-long values are cut with a marker, not refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bench.stack import guide_payload
from tests.stack import ApiHarness

SECRET = "Hunter2SecretValue"
KEYS = [
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_token",
    "authorization",
    "cookie",
    "session",
    "credentials",
    "private_key",
]
CARDS = ["4111 1111 1111 1111", "4111-1111-1111-1111", "5500000000000004", "378282246310005"]
NOT_A_CARD = "4111111111111112"  # fails the Luhn check: an order number, kept
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.sig"


def secret_context() -> dict[str, Any]:
    """Each key at depth, in three spellings, inside dicts and lists."""
    return {
        "request": {
            "headers": [{k: SECRET, k.upper(): SECRET, k.title(): SECRET} for k in KEYS],
            "deeper": {"level3": {"level4": {"X-Api-Key": SECRET, "db_password": SECRET}}},
        },
        "credentials": {"user": "alice", "pass": SECRET},
        "user_id": "u_12345",
    }


def filtered_keys(value: Any, path: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if v == "[Filtered]":
                found.add(f"{path}/{k}")
            found |= filtered_keys(v, f"{path}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found |= filtered_keys(v, f"{path}/{i}")
    return found


def test_secrets_are_filtered_before_redis_and_in_the_store(api: ApiHarness) -> None:
    message = f"charge failed for {CARDS[0]}; Authorization: Bearer {BEARER}"
    stack = [
        "Traceback (most recent call last):",
        *(f"  card={card} order={NOT_A_CARD}" for card in CARDS),
        f"  headers={{'Authorization': 'Bearer {BEARER}'}}",
        "PaymentError: declined",
    ]
    reply = api.report(
        guide_payload(context=secret_context(), message=message, stack_trace=stack, timestamp=None)
    )
    assert reply.status_code == 200, reply.text
    # Before the indexer runs, the stream already holds only the scrubbed report.
    raw = b"".join(
        fields[b"p"] for _, fields in api.redis.xrange(f"{api.settings.redis_prefix}stream")
    )
    assert raw and SECRET.encode() not in raw and BEARER.encode() not in raw
    api.drain()
    bug_id = reply.json()["id"]
    bug = api.client.get(f"/api/v1/bugs/{bug_id}").json()
    events = api.client.get(f"/api/v1/bugs/{bug_id}/events").json()["items"]
    assert len(events) == 1
    for record in (bug, events[0]):
        text = json.dumps(record)
        assert SECRET not in text and BEARER not in text
        for card in CARDS:
            assert card not in text and card.replace(" ", "") not in text
        assert NOT_A_CARD in text
        context = record["context"]
        assert context["user_id"] == "u_12345"
        assert context["credentials"] == "[Filtered]"
        headers = context["request"]["headers"]
        assert all(set(h.values()) == {"[Filtered]"} for h in headers)
        assert [sorted(h) for h in headers] == [sorted({k, k.upper(), k.title()}) for k in KEYS]
        deep = context["request"]["deeper"]["level3"]["level4"]
        assert deep == {"X-Api-Key": "[Filtered]", "db_password": "[Filtered]"}
        assert record["message"] == (
            "charge failed for [Filtered]; Authorization: Bearer [Filtered]"
        )
        assert record["stack_trace"][1] == f"  card=[Filtered] order={NOT_A_CARD}"
        assert record["stack_trace"][-2] == "  headers={'Authorization': 'Bearer [Filtered]'}"
    # Nor can the secret be found by searching.
    for q in (SECRET, f'"{BEARER}"', "4111"):
        found = api.client.get("/api/v1/bugs", params={"q": q}).json()
        assert found["total"] == 0, q


def test_extra_scrub_keys_add_to_the_defaults(make_api: Callable[..., ApiHarness]) -> None:
    api = make_api(scrub_keys=["SSN", "x-internal-note"])
    context = {"customer": {"ssn": "078-05-1120", "X-Internal-Note": "vip"}, "password": SECRET}
    reply = api.report(guide_payload(context=context))
    assert reply.status_code == 200
    api.drain()
    stored = api.client.get(f"/api/v1/bugs/{reply.json()['id']}").json()["context"]
    assert stored["customer"] == {"ssn": "[Filtered]", "X-Internal-Note": "[Filtered]"}
    assert stored["password"] == "[Filtered]", "configured keys must not replace the defaults"


def _stored(api: ApiHarness, payload: dict[str, Any]) -> dict[str, Any]:
    reply = api.report(payload)
    assert reply.status_code == 200, reply.text
    api.drain()
    bug: dict[str, Any] = api.client.get(f"/api/v1/bugs/{reply.json()['id']}").json()
    return bug


def _size(lines: list[str]) -> int:
    return sum(len(line.encode()) for line in lines)


def test_over_long_message_and_stack_land_with_markers(api: ApiHarness) -> None:
    message = "head-" + "m" * 20_000 + "-tail"
    stack = [f"  frame {n}" for n in range(1000)]
    bug = _stored(api, guide_payload(message=message, stack_trace=stack))
    stored = bug["message"]
    assert stored.startswith("head-m") and stored.endswith("m-tail")
    assert "[truncated" in stored
    assert len(stored.encode()) <= 8 * 1024 + 64
    lines = bug["stack_trace"]
    assert len(lines) == 201
    assert lines[:100] == stack[:100] and lines[-100:] == stack[-100:]
    assert "800 lines trimmed" in lines[100]


@pytest.mark.parametrize(
    "stack",
    [
        pytest.param([f"{n:04d} " + "x" * 4000 for n in range(150)], id="ascii-600KiB"),
        pytest.param(["错误" * 450 for _ in range(200)], id="cjk-540KiB"),
        pytest.param("y" * 900_000, id="one-line-900KB"),
    ],
)
def test_stack_over_256_kib_is_trimmed(sqlite_api: ApiHarness, stack: list[str] | str) -> None:
    bug = _stored(sqlite_api, guide_payload(stack_trace=stack))
    lines = bug["stack_trace"]
    # Each trimmed line carries a marker; the markers themselves may add a few bytes.
    assert _size(lines) <= 256 * 1024 + 40 * len(lines)
    assert all("[truncated" in line for line in lines)
    first = stack if isinstance(stack, str) else stack[0]
    assert lines[0][:5] == first[:5] and lines[0][-5:] == first[-5:]


def test_deep_and_huge_context_land_with_markers(api: ApiHarness) -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for n in range(60):
        deep = {f"l{n}": deep}
    bug = _stored(api, guide_payload(context={"deep": deep, "ok": "kept"}, line_number=1))
    context = bug["context"]
    assert context["ok"] == "kept"
    assert "[depth limit]" in json.dumps(context)
    assert json.dumps(context).count("{") <= 9

    huge = {f"field{n}": "v" * 3000 for n in range(150)}  # ~450 KB of context
    bug = _stored(api, guide_payload(context=huge, line_number=2))
    text = json.dumps(bug["context"])
    assert "[truncated" in text
    assert len(text.encode()) <= 64 * 1024 + 256


def test_wide_context_says_what_it_dropped(sqlite_api: ApiHarness) -> None:
    context = {"many": {f"k{n}": n for n in range(500)}, "items": list(range(500))}
    stored = _stored(sqlite_api, guide_payload(context=context))["context"]
    many, items = stored["many"], stored["items"]
    assert len(many) <= 201 and many["k0"] == 0
    assert "[300 more keys]" in json.dumps(many)
    assert items[:200] == list(range(200)) and items[-1] == "[300 more items]"
