"""Accepting one report: normalize, fingerprint, and admit it through the Redis gate."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from config.settings import Limits
from ingest.fingerprint import fingerprint
from ingest.gate import Admission, Gate
from ingest.report import ReportIn, validate_report
from ingest.scrub import clamp, scrub
from ingest.stream import encode_payload
from store.vocabulary import DEFAULT_GROUPING


class InvalidJSON(ValueError):
    pass


def parse_body(body: bytes) -> ReportIn:
    """The report in a request body: InvalidJSON for bytes that are not JSON at all,
    ValidationError for JSON that is not a valid report."""
    try:
        return validate_report(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid":
            raise InvalidJSON(f"body is not valid JSON: {errors[0]['msg']}") from None
        raise


async def accept(
    gate: Gate,
    report: ReportIn,
    limits: Limits,
    scrub_keys: frozenset[str],
    ingest_key: str | None = "",
    grouping: str = DEFAULT_GROUPING,
) -> Admission:
    """Make the report safe to store and admit it; the reply is built from the admission.
    `ingest_key` as `Gate.admit` takes it (None: authenticated otherwise); `grouping` is the
    project's (store.vocabulary.GROUPINGS)."""
    if report.timestamp is None:
        report.timestamp = datetime.now(UTC)
    scrub(report, scrub_keys)
    clamp(report, limits)
    fp = fingerprint(report, grouping)
    payload = encode_payload(report)
    return await gate.admit(
        report.project_id, fp, report.timestamp.isoformat(), payload, ingest_key, report.version
    )
