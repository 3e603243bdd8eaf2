"""Every time the API returns has one shape: ISO 8601, UTC, six fraction digits, `Z`; clients
that parse with a fixed pattern get the same width whether or not the microseconds are zero."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from store.timestamp import utc_iso
from tests.stack import ApiHarness

SHAPE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
#: Every time field of every answer (`detected_at`: a project's toolchain; `key`: histograms).
TIME_KEYS = {
    "first_seen",
    "last_seen",
    "created_at",
    "updated_at",
    "at",
    "timestamp",
    "key",
    "detected_at",
}


def times(body: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) of a time field anywhere in a response body."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key in TIME_KEYS and not isinstance(value, (dict, list, int)):
                yield key, value
            else:
                yield from times(value)
    elif isinstance(body, list):
        for item in body:
            yield from times(item)


def assert_shaped(body: Any, *required: str) -> list[str]:
    found = list(times(body))
    assert {key for key, _ in found} >= set(required), found
    wrong = [(key, value) for key, value in found if not SHAPE.match(str(value))]
    assert not wrong, wrong
    return [value for _, value in found]


def recent_day() -> str:
    """A day within the retention period (older occurrences are not kept)."""
    return (datetime.now(UTC) - timedelta(days=2)).date().isoformat()


def test_every_endpoint_writes_six_fraction_digits_and_z(api: ApiHarness) -> None:
    day = recent_day()
    whole = api.report(timestamp=f"{day}T08:00:00Z").json()["id"]
    api.report(timestamp=f"{day}T09:30:00.5+01:00")  # same bug, 08:30:00.5 UTC
    api.drain()
    assert api.client.put(f"/api/v1/bugs/{whole}/status", json={"status": "VERIFYING"}).is_success
    api.client.post(f"/api/v1/bugs/{whole}/repair-reports", json={"analysis": "a"})
    toolchain = api.client.put("/api/v1/projects/rtc_backend/toolchain", json={"name": "pytest"})
    assert toolchain.is_success, toolchain.text

    bug = api.client.get(f"/api/v1/bugs/{whole}").json()
    assert_shaped(bug, "first_seen", "last_seen", "created_at", "updated_at", "at")
    assert (bug["first_seen"], bug["last_seen"]) == (
        f"{day}T08:00:00.000000Z",
        f"{day}T08:30:00.500000Z",
    )
    events = api.client.get(f"/api/v1/bugs/{whole}/events").json()
    assert assert_shaped(events, "timestamp") == [
        f"{day}T08:30:00.500000Z",
        f"{day}T08:00:00.000000Z",
    ]
    assert_shaped(api.client.get("/api/v1/bugs").json(), "first_seen", "at")
    assert_shaped(api.client.get("/api/v1/projects").json(), "created_at", "updated_at")
    assert_shaped(api.client.get("/api/v1/projects/rtc_backend").json(), "detected_at")
    assert_shaped(api.client.get(f"/api/v1/bugs/{whole}/repair-reports").json(), "created_at")
    assert_shaped(api.client.get("/api/v1/repair-reports").json(), "created_at")
    search = {"from": f"{day}T00:00:00Z", "to": f"{day}T12:00:00Z", "interval": "1h"}
    found = api.client.post("/api/v1/events/search", json=search).json()
    assert_shaped(found, "timestamp", "key")
    assert f"{day}T08:00:00.000000Z" in [bucket["key"] for bucket in found["histogram"]]


def test_times_sent_without_a_zone_are_utc(sqlite_api: ApiHarness) -> None:
    day = recent_day()
    bug_id = sqlite_api.report(timestamp=f"{day}T08:00:00").json()["id"]
    sqlite_api.drain()
    bug = sqlite_api.client.get(f"/api/v1/bugs/{bug_id}").json()
    assert bug["first_seen"] == f"{day}T08:00:00.000000Z"
    for naive in ({"from": f"{day}T08:00:00"}, {"from": f"{day}T07:00:00", "to": f"{day}T09:00"}):
        found = sqlite_api.client.post("/api/v1/events/search", json=naive)
        assert found.status_code == 200, found.text
        assert found.json()["total"] == 1, naive
    late = sqlite_api.client.post("/api/v1/events/search", json={"from": f"{day}T08:00:01"})
    assert late.json()["total"] == 0


def test_utc_iso_keeps_the_moment() -> None:
    moment = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    assert utc_iso(moment) == "2026-01-15T08:00:00.000000Z"
    assert utc_iso(moment.replace(tzinfo=None)) == "2026-01-15T08:00:00.000000Z"  # naive = UTC
    east = moment.astimezone(timezone(timedelta(hours=8)))
    assert utc_iso(east) == "2026-01-15T08:00:00.000000Z"
    assert utc_iso(moment.replace(microsecond=7)) == "2026-01-15T08:00:00.000007Z"
