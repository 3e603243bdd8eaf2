"""Every kind of record a store holds, named, for copying a whole install between stores.

`logcenter migrate` reads each kind from one store and writes it to another through
Store.export_records / Store.import_records. A record travels as the JSON form of its kind's
model (`model_dump(mode="json", by_alias=True)`), so both backends read and write the same
thing. A kind added to the stores must be added here, or tests/store/test_record.py fails.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from store.alert import AlertChannel, AlertDelivery, AlertRule
from store.models import Bug, BugAlias, Event, Project, RepairReport, SavedSearch


class BugIdReservation(BaseModel):
    """The highest bug id stored or reserved: ids at or below it are never handed out again."""

    max_bug_id: int


#: Kind -> the model of its records, in the order a copy writes them (projects before the
#: bugs that name them, bugs before their events and reports).
MODELS: dict[str, type[BaseModel]] = {
    "projects": Project,
    "bugs": Bug,
    "events": Event,
    "repair_reports": RepairReport,
    "saved_searches": SavedSearch,
    "alert_channels": AlertChannel,
    "alert_rules": AlertRule,
    "alert_deliveries": AlertDelivery,
    "bug_id_reservation": BugIdReservation,
    "bug_aliases": BugAlias,
}
KINDS: tuple[str, ...] = tuple(MODELS)

#: A record as it travels between stores (JSON-ready).
Record = dict[str, Any]


def check_kind(kind: str) -> None:
    """Refuse (ValueError) a kind no store holds."""
    if kind not in MODELS:
        raise ValueError(f"unknown record kind {kind!r} (one of: {', '.join(KINDS)})")


def to_record(model: BaseModel) -> Record:
    return model.model_dump(mode="json", by_alias=True)


def from_records(kind: str, records: list[Record]) -> list[Any]:
    """The models of `records` of `kind`, validated."""
    check_kind(kind)
    model = MODELS[kind]
    return [model.model_validate(record) for record in records]


def normalized(kind: str, record: Record) -> Record:
    """`record` as its model writes it: two stores' copies of a record compare equal this way."""
    return to_record(from_records(kind, [record])[0])
