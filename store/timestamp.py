"""How every record writes its times in JSON: ISO 8601 in UTC, six fraction digits and a `Z`
(`2026-01-15T08:00:00.000000Z`), whatever the microseconds happen to be.

pydantic's own format drops the fraction when it is zero, so one field would come back in two
shapes and clients parsing with a fixed pattern trip over the rarer one. Naive datetimes are taken
as UTC, as both stores read them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

EXAMPLE = "2026-01-15T08:00:00.000000Z"


def utc_iso(value: datetime) -> str:
    """`value` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`; a naive value is taken as UTC."""
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


#: A datetime field of a record: validated as any datetime, written to JSON by `utc_iso`.
Timestamp = Annotated[
    datetime,
    PlainSerializer(utc_iso, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "UTC, ISO 8601 with six fraction digits",
            "examples": [EXAMPLE],
        }
    ),
]
