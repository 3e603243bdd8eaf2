"""The occurrence stream's entry, said once: its field names, its payload and its decoded form.

The gate (ingest/gate.lua, loaded by ingest/gate.py) appends one entry per accepted report and
the indexer (ingest/indexer.py) reads them back. Both sides take the field names from here, so
the format is stated in one place. The names are one byte each and must not change: entries
written before an upgrade are still read after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, cast

import orjson

from ingest.report import ReportIn

#: The bug id the gate gave the report.
BUG_ID = "b"
#: The report's fingerprint.
FINGERPRINT = "f"
#: "1" when the report was the first of its fingerprint, "0" otherwise.
IS_NEW = "n"
#: "1" when the report reopened a fixed bug (a regression), "0" otherwise.
REOPENED = "r"
#: The normalized report, JSON (`ReportPayload`).
PAYLOAD = "p"

_BUG_ID = BUG_ID.encode()
_FINGERPRINT = FINGERPRINT.encode()
_IS_NEW = IS_NEW.encode()
_REOPENED = REOPENED.encode()
_PAYLOAD = PAYLOAD.encode()
_TRUE = b"1"


class ErrorPayload(TypedDict):
    """`ReportIn.error` as the payload holds it (unset optional fields left out)."""

    type: str
    message: str
    file_path: NotRequired[str]
    line_number: NotRequired[int]
    stack_trace: list[str]


class ReportPayload(TypedDict):
    """A normalized `ReportIn` as the payload holds it: scrubbed, clamped, timestamped (ISO
    8601, UTC), optional fields left out when unset."""

    project_id: str
    environment: str
    level: str
    source: str
    timestamp: str
    version: NotRequired[str]
    commit_hash: NotRequired[str]
    repo_url: NotRequired[str]
    #: Why the report's repo_url was dropped, for its project's page.
    repo_url_rejected: NotRequired[str]
    error: ErrorPayload
    context: NotRequired[dict[str, Any]]


def encode_payload(report: ReportIn) -> bytes:
    """The payload field of a normalized report."""
    return report.model_dump_json(exclude_none=True).encode()


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One decoded stream entry: an admitted report and what the gate decided about it."""

    entry_id: str
    bug_id: int
    fingerprint: str
    is_new: bool
    reopened: bool
    payload: ReportPayload


def decode(entry_id: bytes, fields: Mapping[bytes, bytes]) -> StreamEntry:
    """The entry `entry_id` with `fields` as Redis returns them (bytes names and values)."""
    return StreamEntry(
        entry_id=entry_id.decode(),
        bug_id=int(fields[_BUG_ID]),
        fingerprint=fields[_FINGERPRINT].decode(),
        is_new=fields.get(_IS_NEW) == _TRUE,
        reopened=fields.get(_REOPENED) == _TRUE,
        payload=cast(ReportPayload, orjson.loads(fields[_PAYLOAD])),
    )
