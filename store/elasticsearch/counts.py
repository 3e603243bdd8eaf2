"""Exactly-once bug counters without transactions, for the Elasticsearch backend.

A bug's `count` is `count_base` plus the number of its event documents at or after its
`purged_before`. Event _ids are the occurrence ids, so an event is stored once, and the request
whose bulk `create` stored it (201) counts it: it reads the bugs' counters before creating the
events and then adds what it created, under if_seq_no, without searching anything.

A `create` answering 409 means an earlier attempt stored that event (a batch redelivered after a
crash, or two indexers holding the same entries) and may or may not have counted it, so those
bugs are recounted from the stored events instead and written absolutely, never lowered.

A recount bumps the bug's `count_epoch` before it counts and again when it writes. An increment
is applied only while the epoch is still the one read before its events were created: otherwise
a recount may already include them, and the bug is recounted instead of incremented.

Purging moves the purged documents into `count_base` and advances `purged_before` in the same
write (bumping the epoch as a recount does), before any document is deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from store.elasticsearch.client import OCC_RETRIES, bulk_conflicts
from store.elasticsearch.mapping import IndexNames
from store.elasticsearch.query import es_date
from store.errors import Conflict
from store.models import Event, newest_of, regresses, regression_change, utcnow
from store.vocabulary import Status


@dataclass
class BugCounts:
    """A stored bug's counting state with what optimistic concurrency needs."""

    fingerprint: str
    bug_id: int
    status: Status
    status_history: list[dict[str, Any]]
    count: int
    count_base: int
    epoch: int
    purged_before: datetime | None
    regression_count: int
    first_seen: datetime
    last_seen: datetime
    revision: int
    seq_no: int
    primary_term: int
    source: dict[str, Any]

    @classmethod
    def from_hit(cls, hit: dict[str, Any]) -> BugCounts:
        source = hit["_source"]
        purged = source.get("purged_before")
        return cls(
            fingerprint=hit["_id"],
            bug_id=int(source["id"]),
            status=Status(source.get("status", Status.NEW)),
            status_history=list(source.get("status_history") or []),
            count=int(source.get("count", 0)),
            count_base=int(source.get("count_base", 0)),
            epoch=int(source.get("count_epoch", 0)),
            purged_before=datetime.fromisoformat(purged) if purged else None,
            regression_count=int(source.get("regression_count", 0)),
            first_seen=datetime.fromisoformat(source["first_seen"]),
            last_seen=datetime.fromisoformat(source["last_seen"]),
            revision=int(source.get("revision", 0)),
            seq_no=int(hit["_seq_no"]),
            primary_term=int(hit["_primary_term"]),
            source=source,
        )


#: Fields to set on a stored bug, or None to leave it as it is.
Apply = Callable[[BugCounts], dict[str, Any] | None]


def fingerprints_of(es: Elasticsearch, names: IndexNames, bug_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(bug_ids))
    if not ids:
        return {}
    resp = es.search(
        index=names.bugs, query={"terms": {"id": ids}}, size=len(ids), source_includes=["id"]
    )
    return {int(h["_source"]["id"]): h["_id"] for h in resp["hits"]["hits"]}


def read_counters(
    es: Elasticsearch, names: IndexNames, fingerprints: Iterable[str]
) -> list[BugCounts]:
    """Current (real-time) counting state of the bugs stored under `fingerprints`.

    The whole documents are read and written back whole: Elasticsearch indexes a document
    it is sent at about half the cost of a partial update (which reads it again)."""
    fps = list(fingerprints)
    if not fps:
        return []
    resp = es.mget(index=names.bugs, ids=fps)
    return [BugCounts.from_hit(d) for d in resp["docs"] if d.get("found")]


def counters_of_events(
    es: Elasticsearch, names: IndexNames, events: list[Event], known: dict[int, str]
) -> dict[int, BugCounts]:
    """{bug id: counter} of the stored bugs of `events` (events of unknown bugs are left out).

    Events carry their bug's fingerprint, the bug document's _id; `known` ({bug id:
    fingerprint}) is checked first and completed here, so a search by id is rarely needed.
    """
    wanted = {e.bug_id: known.get(e.bug_id, e.fingerprint) for e in events}
    found = {c.bug_id: c for c in read_counters(es, names, set(wanted.values()))}
    missing = [bug_id for bug_id in wanted if bug_id not in found]
    if missing:
        found.update(
            (c.bug_id, c)
            for c in read_counters(es, names, fingerprints_of(es, names, missing).values())
        )
    out = {bug_id: found[bug_id] for bug_id in wanted if bug_id in found}
    known.update((bug_id, c.fingerprint) for bug_id, c in out.items())
    return out


def update_counters(
    es: Elasticsearch,
    names: IndexNames,
    current: list[BugCounts],
    change: Callable[[list[BugCounts]], Apply],
) -> None:
    """Apply `change` to each bug under optimistic concurrency; the bugs that raced are read
    again and retried.

    `change` is called with the current counters of every attempt, so it can compute what it
    needs (event counts) from a consistent read.
    """
    docs = current
    for _ in range(OCC_RETRIES):
        apply = change(docs)
        ops: list[dict[str, Any]] = []
        for doc in docs:
            fields = apply(doc)
            if fields is None:
                continue
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
            ops.append({**doc.source, **fields})
        if not ops:
            return
        raced = [fingerprint for fingerprint, conflict in bulk_conflicts(es, ops) if conflict]
        if not raced:
            return
        docs = read_counters(es, names, raced)
    raise Conflict("bugs: too much contention while updating counters, try again")


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


def event_counts(es: Elasticsearch, names: IndexNames, docs: list[BugCounts]) -> dict[int, int]:
    """Stored events per bug at or after each bug's purged_before (one search per cutoff)."""
    by_cutoff: dict[datetime | None, list[int]] = defaultdict(list)
    for doc in docs:
        by_cutoff[doc.purged_before].append(doc.bug_id)
    counts: dict[int, int] = {}
    for cutoff, ids in by_cutoff.items():
        window = None if cutoff is None else {"gte": es_date(cutoff)}
        counts.update(count_by_bug(es, names, ids, window))
    return counts


@dataclass
class Batch:
    """What one add_events chunk stored, per bug."""

    events: list[Event]
    new: list[Event]
    reopen_ids: AbstractSet[int]
    new_stamps: dict[int, list[datetime]] = field(default_factory=dict)
    #: The versions of each bug's events, once each, in arrival order: of its new events, or
    #: of all when none is new (a redelivery, where a recount may still add some).
    versions: dict[int, dict[str | None, None]] = field(default_factory=dict)
    seen: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)
    reopened: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        for e in self.new:
            self.new_stamps.setdefault(e.bug_id, []).append(e.timestamp)
            self.versions.setdefault(e.bug_id, {})[e.version] = None
        for e in self.events:
            if e.bug_id not in self.new_stamps:
                self.versions.setdefault(e.bug_id, {})[e.version] = None
            low, high = self.seen.get(e.bug_id, (e.timestamp, e.timestamp))
            self.seen[e.bug_id] = (min(low, e.timestamp), max(high, e.timestamp))

    def fields(
        self, doc: BugCounts, now: datetime, epoch: int, stored: int | None = None
    ) -> dict[str, Any] | None:
        """The update of `doc` for this batch; None when it changes nothing.

        Without `stored`, the batch's new events are added to the count; with it, the count
        becomes count_base plus `stored` (the bug's events at or after purged_before). New
        events stamped before purged_before (late arrivals) go into count_base either way.
        """
        stamps = self.new_stamps.get(doc.bug_id, [])
        cutoff = doc.purged_before
        late = sum(1 for t in stamps if cutoff and t < cutoff)
        base = doc.count_base + late
        count = doc.count + len(stamps) if stored is None else max(doc.count, base + stored)
        first, last = self.seen[doc.bug_id]
        update: dict[str, Any] = {}
        if count != doc.count:
            update["count"] = count
        if first < doc.first_seen:
            update["first_seen"] = es_date(first)
        if last > doc.last_seen:
            update["last_seen"] = es_date(last)
        versions = list(self.versions.get(doc.bug_id, ()))
        newest = newest_of(doc.source.get("newest_version"), versions)
        if newest != doc.source.get("newest_version"):
            update["newest_version"] = newest
        grew = bool(stamps) or count > doc.count
        fixed = doc.source.get("fixed_version")
        if doc.bug_id in self.reopen_ids and grew and regresses(doc.status, fixed, versions):
            update["status"] = Status.NEW.value
            update["fixed_version"] = None
            update["regression_count"] = doc.regression_count + 1
            entry = regression_change(doc.status, now).dump()
            update["status_history"] = [*doc.status_history, entry]
            self.reopened.add(doc.bug_id)
        if not update and not late and epoch == doc.epoch:
            return None
        return {
            **update,
            "count_base": base,
            "count_epoch": epoch,
            "revision": doc.revision + 1,
            "updated_at": es_date(now),
        }


def count_batch(
    es: Elasticsearch,
    names: IndexNames,
    batch: Batch,
    before: dict[int, BugCounts],
    conflicted: AbstractSet[int],
    refresh: Callable[[], None],
) -> None:
    """Bring the bugs of `batch` up to date; `before` are their counters read before the
    batch's events were created, `conflicted` the bugs with an event stored before (409).

    `refresh` makes every event of the batch searchable (a recount needs it).
    """
    start_epoch = {bug_id: doc.epoch for bug_id, doc in before.items()}
    recount = {bug_id for bug_id in conflicted if bug_id in before}
    increments = [doc for bug_id, doc in before.items() if bug_id not in recount]

    def add(docs: list[BugCounts]) -> Apply:
        now = utcnow()

        def apply(doc: BugCounts) -> dict[str, Any] | None:
            if doc.epoch != start_epoch[doc.bug_id]:
                recount.add(doc.bug_id)  # a recount ran meanwhile: it may hold our events
                return None
            return batch.fields(doc, now, doc.epoch)

        return apply

    update_counters(es, names, increments, add)
    if recount:
        recount_bugs(es, names, batch, [before[b].fingerprint for b in sorted(recount)], refresh)


def recount_bugs(
    es: Elasticsearch,
    names: IndexNames,
    batch: Batch,
    fingerprints: list[str],
    refresh: Callable[[], None],
) -> None:
    """Count the bugs' stored events and write the counts absolutely (never lowering them)."""
    docs = read_counters(es, names, fingerprints)
    update_counters(es, names, docs, lambda _: lambda doc: {"count_epoch": doc.epoch + 1})
    refresh()

    def change(docs: list[BugCounts]) -> Apply:
        counts = event_counts(es, names, docs)
        now = utcnow()
        return lambda doc: batch.fields(doc, now, doc.epoch + 1, counts.get(doc.bug_id, 0))

    update_counters(es, names, read_counters(es, names, fingerprints), change)


def move_to_base(
    es: Elasticsearch, names: IndexNames, bug_ids: list[int], cutoff: datetime
) -> None:
    """Before purging, add each bug's events in [purged_before, cutoff) to its count_base."""

    def change(docs: list[BugCounts]) -> Apply:
        todo = [d for d in docs if d.purged_before is None or d.purged_before < cutoff]
        todo_ids = {d.bug_id for d in todo}
        by_start: dict[datetime | None, list[int]] = defaultdict(list)
        for doc in todo:
            by_start[doc.purged_before].append(doc.bug_id)
        purged: dict[int, int] = {}
        for start, ids in by_start.items():
            window = {"lt": es_date(cutoff)}
            if start is not None:
                window["gte"] = es_date(start)
            purged.update(count_by_bug(es, names, ids, window))

        def apply(doc: BugCounts) -> dict[str, Any] | None:
            if doc.bug_id not in todo_ids:
                return None
            return {
                "count_base": doc.count_base + purged.get(doc.bug_id, 0),
                "purged_before": es_date(cutoff),
                "count_epoch": doc.epoch + 1,
            }

        return apply

    fingerprints = fingerprints_of(es, names, bug_ids).values()
    update_counters(es, names, read_counters(es, names, fingerprints), change)
