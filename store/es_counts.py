"""Exactly-once bug counters without transactions, for the Elasticsearch backend.

A bug's `count` is `count_base` plus the number of its event documents at or after its
`purged_before` (event _ids are the occurrence ids, so a redelivered event is never stored
twice). Counts are recomputed from the events and written absolutely under if_seq_no, never
lowered, so a crash between storing events and updating bugs is repaired by the redelivery, and
a stale writer cannot undo a newer one. Purging moves the purged documents into `count_base`
and advances `purged_before` in the same write, before any document is deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from store.errors import Conflict
from store.es_client import OCC_RETRIES, BugDoc, bug_doc_from_hit, bulk_conflicts
from store.es_mapping import IndexNames, bug_doc
from store.es_query import es_date
from store.models import REGRESSION_STATUSES, Bug, Event, Status, StatusChange, utcnow

#: Returns the new Bug, count_base and purged_before for a stored bug, or None to leave it.
Change = Callable[[BugDoc], tuple[Bug, int, datetime | None] | None]


def fingerprints_of(es: Elasticsearch, names: IndexNames, bug_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(bug_ids))
    if not ids:
        return {}
    resp = es.search(
        index=names.bugs, query={"terms": {"id": ids}}, size=len(ids), source_includes=["id"]
    )
    return {int(h["_source"]["id"]): h["_id"] for h in resp["hits"]["hits"]}


def read_bugs(es: Elasticsearch, names: IndexNames, fingerprints: Iterable[str]) -> list[BugDoc]:
    """Current (real-time) bug documents with their sequence numbers."""
    fps = list(fingerprints)
    if not fps:
        return []
    resp = es.mget(index=names.bugs, ids=fps)
    return [bug_doc_from_hit(d) for d in resp["docs"] if d.get("found")]


def update_bugs(
    es: Elasticsearch,
    names: IndexNames,
    fingerprints: Iterable[str],
    change: Callable[[list[BugDoc]], Change],
) -> None:
    """Apply `change` to each bug under optimistic concurrency, retrying the ones that raced.

    `change` is called with the current documents of every attempt, so it can compute what
    it needs (event counts) from a consistent read.
    """
    pending = set(fingerprints)
    for _ in range(OCC_RETRIES):
        docs = read_bugs(es, names, pending)
        apply = change(docs)
        ops: list[dict[str, Any]] = []
        for doc in docs:
            result = apply(doc)
            if result is None:
                continue
            bug, base, purged = result
            ops.append(
                {
                    "index": {
                        "_index": names.bugs,
                        "_id": doc.fingerprint,
                        "if_seq_no": doc.seq_no,
                        "if_primary_term": doc.primary_term,
                    }
                }
            )
            ops.append(bug_doc(bug, count_base=base, purged_before=purged))
        if not ops:
            return
        results = bulk_conflicts(es, ops, refresh=True)
        pending = {fingerprint for fingerprint, conflict in results if conflict}
        if not pending:
            return
    raise Conflict("bugs: too much contention while updating counters, try again")


def event_counts(es: Elasticsearch, names: IndexNames, docs: list[BugDoc]) -> dict[int, int]:
    """Stored events per bug at or after each bug's purged_before (one search per cutoff)."""
    by_cutoff: dict[datetime | None, list[int]] = defaultdict(list)
    for doc in docs:
        by_cutoff[doc.purged_before].append(doc.bug.id)
    counts: dict[int, int] = {}
    for cutoff, ids in by_cutoff.items():
        window = None if cutoff is None else {"gte": es_date(cutoff)}
        counts.update(count_by_bug(es, names, ids, window))
    return counts


def count_by_bug(
    es: Elasticsearch, names: IndexNames, ids: list[int], window: dict[str, str] | None
) -> dict[int, int]:
    filters: list[dict[str, Any]] = [{"terms": {"bug_id": ids}}]
    if window:
        filters.append({"range": {"@timestamp": window}})
    resp = es.search(
        index=names.events_pattern,
        size=0,
        query={"bool": {"filter": filters}},
        aggs={"bugs": {"terms": {"field": "bug_id", "size": max(len(ids), 1)}}},
    )
    aggs = resp.get("aggregations")
    if not aggs:
        return {}
    return {int(b["key"]): int(b["doc_count"]) for b in aggs["bugs"]["buckets"]}


def reopen(bug: Bug, now: datetime) -> Bug:
    """A regression: a new occurrence of a bug believed fixed moves it back to NEW."""
    entry = StatusChange.model_validate(
        {
            "from": bug.status.value,
            "to": Status.NEW.value,
            "at": now,
            "by": "ingest",
            "reason": f"regression: new occurrence after {bug.status.value}",
        }
    )
    return bug.model_copy(
        update={
            "status": Status.NEW,
            "regression_count": bug.regression_count + 1,
            "status_history": [*bug.status_history, entry],
        }
    )


def sync_counts(
    es: Elasticsearch,
    names: IndexNames,
    events: list[Event],
    new: list[Event],
    reopen_ids: AbstractSet[int],
) -> set[int]:
    """Bring the bugs of `events` up to date with the stored events; return reopened bug ids.

    `new` are the events this call stored. Those older than a bug's `purged_before` (late
    arrivals behind the retention cutoff) are not in the counted window: they go into
    `count_base` directly.
    """
    new_ids = {e.bug_id for e in new}
    new_stamps: dict[int, list[datetime]] = defaultdict(list)
    for e in new:
        new_stamps[e.bug_id].append(e.timestamp)
    seen: dict[int, tuple[datetime, datetime]] = {}
    for e in events:
        low, high = seen.get(e.bug_id, (e.timestamp, e.timestamp))
        seen[e.bug_id] = (min(low, e.timestamp), max(high, e.timestamp))
    reopened: set[int] = set()

    def change(docs: list[BugDoc]) -> Change:
        counts = event_counts(es, names, docs)
        now = utcnow()

        def apply(doc: BugDoc) -> tuple[Bug, int, datetime | None] | None:
            bug = doc.bug
            cutoff = doc.purged_before
            late = sum(1 for t in new_stamps[bug.id] if cutoff and t < cutoff)
            base = doc.count_base + late
            computed = base + counts.get(bug.id, 0)
            first, last = seen[bug.id]
            update = {
                "count": max(bug.count, computed),
                "first_seen": min(bug.first_seen, first),
                "last_seen": max(bug.last_seen, last),
            }
            grew = bug.id in new_ids or computed > bug.count
            regress = bug.id in reopen_ids and grew and bug.status in REGRESSION_STATUSES
            unchanged = all(getattr(bug, k) == v for k, v in update.items())
            if not regress and not late and unchanged:
                return None
            changed = bug.model_copy(
                update={**update, "revision": bug.revision + 1, "updated_at": now}
            )
            if regress:
                changed = reopen(changed, now)
                reopened.add(bug.id)
            return changed, base, doc.purged_before

        return apply

    update_bugs(es, names, fingerprints_of(es, names, seen).values(), change)
    return reopened


def move_to_base(
    es: Elasticsearch, names: IndexNames, bug_ids: list[int], cutoff: datetime
) -> None:
    """Before purging, add each bug's events in [purged_before, cutoff) to its count_base."""

    def change(docs: list[BugDoc]) -> Change:
        todo = [d for d in docs if d.purged_before is None or d.purged_before < cutoff]
        todo_fps = {d.fingerprint for d in todo}
        by_start: dict[datetime | None, list[int]] = defaultdict(list)
        for doc in todo:
            by_start[doc.purged_before].append(doc.bug.id)
        purged: dict[int, int] = {}
        for start, ids in by_start.items():
            window = {"lt": es_date(cutoff)}
            if start is not None:
                window["gte"] = es_date(start)
            purged.update(count_by_bug(es, names, ids, window))

        def apply(doc: BugDoc) -> tuple[Bug, int, datetime | None] | None:
            if doc.fingerprint not in todo_fps:
                return None
            return doc.bug, doc.count_base + purged.get(doc.bug.id, 0), cutoff

        return apply

    update_bugs(es, names, fingerprints_of(es, names, bug_ids).values(), change)
