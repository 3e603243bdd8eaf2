"""Copying records in and out of the Elasticsearch store as they are (store.base.Store's
export_records and import_records, used by `logcenter migrate`).

Reads page with search_after on each kind's unique key (events: `event.id`), so a position is
the last key read. Writes are bulk `index` operations keyed as the store keys its documents
(bugs by fingerprint, events by id in their day's index, projects by project_id, the rest by
id), built by the store's own conversions (mapping.py); writing a batch again replaces the same
documents. The meta counters are raised past every id copied in, so the store never issues one
of them again.

A copied bug keeps its count as `count_base` with `purged_before` just after its last
occurrence: the copied events (all at or before it) never count again, and a later recount
(store.elasticsearch.counts) adds only occurrences stored after the copy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from elasticsearch import Elasticsearch
from pydantic import BaseModel

from store.alert import AlertChannel, AlertDelivery, AlertRule
from store.elasticsearch.client import (
    bulk_conflicts,
    counter_value,
    raise_counter,
    translated,
)
from store.elasticsearch.counts import fingerprints_of
from store.elasticsearch.mapping import (
    IndexNames,
    bug_doc,
    bug_from_doc,
    event_doc,
    event_from_doc,
    project_from_doc,
    repair_from_doc,
    search_doc,
    search_from_doc,
)
from store.errors import Conflict
from store.models import Bug, BugAlias, Event
from store.record import BugIdReservation, Record, check_kind, from_records, to_record

_JUST_AFTER = timedelta(microseconds=1)


class _Layout:
    """Where one kind lives: its index, sort key, document -> model and the meta counter of
    its ids (None: ids are not the store's)."""

    def __init__(
        self,
        index: str,
        key: str,
        convert: Callable[[dict[str, Any]], BaseModel],
        counter: str | None,
    ) -> None:
        self.index, self.key, self.convert, self.counter = index, key, convert, counter


def _layouts(names: IndexNames) -> dict[str, _Layout]:
    alerts = names.prefix
    return {
        "projects": _Layout(names.projects, "id", project_from_doc, "project_ids"),
        "bugs": _Layout(names.bugs, "id", bug_from_doc, None),
        "events": _Layout(names.events_pattern, "event.id", event_from_doc, None),
        "repair_reports": _Layout(names.repairs, "id", repair_from_doc, "repair_ids"),
        "saved_searches": _Layout(names.searches, "id", search_from_doc, "search_ids"),
        "alert_channels": _Layout(
            names.alert_channels,
            "id",
            AlertChannel.model_validate,
            names.alert_channels.removeprefix(alerts),
        ),
        "alert_rules": _Layout(
            names.alert_rules,
            "id",
            AlertRule.model_validate,
            names.alert_rules.removeprefix(alerts),
        ),
        "alert_deliveries": _Layout(
            names.alert_deliveries,
            "id",
            AlertDelivery.model_validate,
            names.alert_deliveries.removeprefix(alerts),
        ),
        "bug_aliases": _Layout(names.bug_aliases, "merged_id", BugAlias.model_validate, None),
    }


def _operation(names: IndexNames, kind: str, model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bulk `index` action and document that store `model` of `kind`."""
    if kind == "bugs":
        bug: Bug = model
        doc = bug_doc(bug, count_base=bug.count, purged_before=bug.last_seen + _JUST_AFTER)
        return {"index": {"_index": names.bugs, "_id": bug.fingerprint}}, doc
    if kind == "events":
        event: Event = model
        return {"index": {"_index": names.events_for(event.timestamp), "_id": event.id}}, (
            event_doc(event)
        )
    if kind == "projects":
        return {"index": {"_index": names.projects, "_id": model.project_id}}, model.model_dump(
            mode="json"
        )
    if kind == "bug_aliases":
        alias: BugAlias = model
        return {"index": {"_index": names.bug_aliases, "_id": alias.fingerprint}}, (
            alias.model_dump(mode="json")
        )
    if kind == "saved_searches":
        return {"index": {"_index": names.searches, "_id": str(model.id)}}, search_doc(model)
    index = _layouts(names)[kind].index
    return {"index": {"_index": index, "_id": str(model.id)}}, model.model_dump(mode="json")


class ElasticsearchTransfer:
    """The copying part of store.base.Store (see its promises there); a mixin of
    ElasticsearchStore."""

    es: Elasticsearch
    names: IndexNames

    @translated
    def export_records(
        self, kind: str, after: str | None, limit: int
    ) -> tuple[list[Record], str | None]:
        check_kind(kind)
        if kind == "bug_id_reservation":
            if after is not None:
                return [], None
            return [to_record(BugIdReservation(max_bug_id=self._highest_bug_id()))], None
        layout = _layouts(self.names)[kind]
        if after is None:  # an indexer that does not refresh may have left the last second
            self.es.indices.refresh(index=layout.index)
        search_after: list[Any] | None = None
        if after is not None:
            search_after = [after if kind == "events" else int(after)]
        hits = self.es.search(
            index=layout.index,
            size=limit,
            sort=[{layout.key: "asc"}],
            search_after=search_after,
        )["hits"]["hits"]
        records = [to_record(layout.convert(hit["_source"])) for hit in hits]
        return records, (str(hits[-1]["sort"][0]) if len(hits) == limit else None)

    def _highest_bug_id(self) -> int:
        found = self.es.search(index=self.names.bugs, size=0, aggs={"m": {"max": {"field": "id"}}})[
            "aggregations"
        ]["m"]["value"]
        stored = int(found) if found is not None else 0
        return max(stored, counter_value(self.es, self.names.meta, "bug_ids"))

    @translated
    def import_records(self, kind: str, records: list[Record]) -> int:
        models = from_records(kind, records)
        if not models:
            return 0
        if kind == "bug_id_reservation":
            for reservation in models:
                raise_counter(self.es, self.names.meta, "bug_ids", reservation.max_bug_id)
            return len(models)
        if kind == "bugs":
            self._check_bug_ids(models)
        operations: list[dict[str, Any]] = []
        for model in models:
            operations.extend(_operation(self.names, kind, model))
        bulk_conflicts(self.es, operations, refresh=True)
        counter = _layouts(self.names)[kind].counter
        if counter is not None:
            raise_counter(self.es, self.names.meta, counter, max(m.id for m in models))
        return len(models)

    def _check_bug_ids(self, bugs: list[Bug]) -> None:
        """Refuse a bug whose id another fingerprint holds here (bug _ids are fingerprints)."""
        held = fingerprints_of(self.es, self.names, [b.id for b in bugs])
        for bug in bugs:
            if held.get(bug.id, bug.fingerprint) != bug.fingerprint:
                raise Conflict(f"bug {bug.id}: the id is held by fingerprint {held[bug.id]} here")
