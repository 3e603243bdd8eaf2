"""Merging bugs on Elasticsearch (store.base.Store.merge_bugs) without transactions.

Each merged bug goes in steps that are each safe to repeat, so running a merge again finishes
one cut short:

1. its fingerprint's alias (`<prefix>bug-aliases`, keyed by fingerprint) names the target, and
   aliases naming the merged bug are pointed at the target: from here on its reports land on
   the target (add_events, create_bugs remap by fingerprint);
2. the target takes its counts and a history entry in one write under optimistic concurrency;
   the entry (store.models.has_merged) says it was done, so a re-run never adds twice. Counts
   stay `count_base + stored events` (store.elasticsearch.counts): the base takes the merged
   count less the merged events the target will count once they are moved;
3. its event documents (and repair reports) are rewritten with the target's id;
4. its id stays reserved, and its document is deleted.

Without transactions one window stays open: an indexer whose add_events read the aliases just
before step 1 stores its chunk under the merged id. The merge moves such occurrences once more
at its end (none is lost), but one counted on the merged bug after step 2 read it is not in
the target's count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from elasticsearch import Elasticsearch

from store.elasticsearch.client import (
    BugDoc,
    bulk_conflicts,
    raise_counter,
    with_occ,
)
from store.elasticsearch.counts import count_by_bug
from store.elasticsearch.mapping import IndexNames
from store.elasticsearch.query import es_date
from store.models import BugAlias, has_merged, merge_change, merged_totals, utcnow

_PAGE = 1000


def aliases_of(es: Elasticsearch, names: IndexNames, fingerprints: Iterable[str]) -> dict[str, int]:
    """{merged fingerprint: the bug it answers for} of those among `fingerprints` (real time:
    a get by _id needs no refresh)."""
    fps = list(dict.fromkeys(fingerprints))
    if not fps:
        return {}
    docs = es.mget(index=names.bug_aliases, ids=fps, source_includes=["bug_id"])["docs"]
    return {d["_id"]: int(d["_source"]["bug_id"]) for d in docs if d.get("found")}


def merged_into(es: Elasticsearch, names: IndexNames, bug_id: int) -> int | None:
    hits = es.search(index=names.bug_aliases, query={"term": {"merged_id": bug_id}}, size=1)[
        "hits"
    ]["hits"]
    return int(hits[0]["_source"]["bug_id"]) if hits else None


def merged_fingerprints(es: Elasticsearch, names: IndexNames, bug_id: int) -> list[str]:
    """Every fingerprint answering for `bug_id` (a merge chain's are pointed at its end)."""
    found: list[str] = []
    after: list[Any] | None = None
    while True:
        hits = es.search(
            index=names.bug_aliases,
            query={"term": {"bug_id": bug_id}},
            size=_PAGE,
            sort=[{"fingerprint": "asc"}],
            search_after=after,
            source=False,
        )["hits"]["hits"]
        found += [h["_id"] for h in hits]
        if len(hits) < _PAGE:
            return found
        after = hits[-1]["sort"]


def alias_keys(es: Elasticsearch, names: IndexNames) -> Iterator[tuple[str, int, str, str | None]]:
    """(merged fingerprint, target id, target status, target fixed_version) of every alias,
    a page at a time."""
    after: list[Any] | None = None
    while True:
        hits = es.search(
            index=names.bug_aliases, size=_PAGE, sort=[{"merged_id": "asc"}], search_after=after
        )["hits"]["hits"]
        targets = sorted({int(h["_source"]["bug_id"]) for h in hits})
        found = (
            es.search(
                index=names.bugs,
                query={"terms": {"id": targets}},
                size=max(len(targets), 1),
                source_includes=["id", "status", "fixed_version"],
            )["hits"]["hits"]
            if targets
            else []
        )
        known = {int(h["_source"]["id"]): h["_source"] for h in found}
        for h in hits:
            target = int(h["_source"]["bug_id"])
            if target in known:
                bug = known[target]
                yield h["_id"], target, str(bug["status"]), bug.get("fixed_version")
        if len(hits) < _PAGE:
            return
        after = hits[-1]["sort"]


def point_aliases(es: Elasticsearch, names: IndexNames, merged: BugDoc, target_id: int) -> None:
    """Step 1: the merged fingerprint, and those merged into it before, answer the target."""
    alias = BugAlias(
        fingerprint=merged.fingerprint,
        bug_id=target_id,
        merged_id=merged.bug.id,
        merged_at=utcnow(),
    )
    es.index(
        index=names.bug_aliases,
        id=alias.fingerprint,
        document=alias.model_dump(mode="json"),
        refresh=True,
    )
    _rewrite(es, names.bug_aliases, {"term": {"bug_id": merged.bug.id}}, {"bug_id": target_id})


def take_counts(
    es: Elasticsearch,
    names: IndexNames,
    read: Any,
    target_id: int,
    merged: BugDoc,
    by: str | None,
) -> None:
    """Step 2: the target's counters and history gain the merged bug's, once.

    `read(bug_id)` returns a BugDoc (None when absent): the store's own reader."""

    def attempt() -> None:
        target: BugDoc = read(target_id)
        if has_merged(target.bug.status_history, merged.bug.id):
            return
        window = None if target.purged_before is None else {"gte": es_date(target.purged_before)}
        counted = count_by_bug(es, names, [merged.bug.id], window).get(merged.bug.id, 0)
        now = utcnow()
        entry = merge_change(target.bug.status, merged.bug, now, by)
        bug = target.bug.model_copy(
            update={
                **merged_totals(target.bug, merged.bug),
                "status_history": [*target.bug.status_history, entry],
                "revision": target.bug.revision + 1,
                "updated_at": now,
            }
        )
        es.index(
            index=names.bugs,
            id=target.fingerprint,
            document=target.document(
                bug, count_base=target.count_base + merged.bug.count - counted
            ),
            if_seq_no=target.seq_no,
            if_primary_term=target.primary_term,
            refresh=True,
        )

    with_occ(f"bug {target_id}", attempt)


def move_documents(es: Elasticsearch, names: IndexNames, merged_id: int, target_id: int) -> None:
    """Step 3: occurrences and repair reports of the merged bug become the target's."""
    query = {"term": {"bug_id": merged_id}}
    _rewrite(es, names.events_pattern, query, {"bug_id": target_id})
    _rewrite(es, names.repairs, query, {"bug_id": target_id})


def drop_merged(es: Elasticsearch, names: IndexNames, merged: BugDoc) -> None:
    """Step 4: the merged id is never handed out again; its document goes."""
    raise_counter(es, names.meta, "bug_ids", merged.bug.id)
    es.options(ignore_status=404).delete(index=names.bugs, id=merged.fingerprint, refresh=True)


def _rewrite(
    es: Elasticsearch, index: str, query: dict[str, Any], change: Mapping[str, Any]
) -> None:
    """Apply `change` to every document `query` matches, until none does (no scripts: the node
    may lack them)."""
    es.indices.refresh(index=index, allow_no_indices=True)
    while True:
        hits = es.search(index=index, query=query, size=_PAGE, allow_no_indices=True)["hits"][
            "hits"
        ]
        if not hits:
            return
        operations: list[dict[str, Any]] = []
        for hit in hits:
            operations += [
                {"index": {"_index": hit["_index"], "_id": hit["_id"]}},
                {**hit["_source"], **change},
            ]
        bulk_conflicts(es, operations, refresh=True)
