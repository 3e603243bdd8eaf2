"""Retention on Elasticsearch: drop each project's occurrences stamped before its cutoff.

Occurrences live in one index per day, and a day's index holds every project's occurrences, so
whole indices go only before the earliest cutoff (the longest retention any project has, the
maximum bounding it); within the days kept, the occurrences of projects with a shorter
retention are searched and bulk-deleted (the test distribution has no _delete_by_query).

Before anything is deleted, each bug's purged occurrences move into its `count_base`
(store.elasticsearch.counts.move_to_base), per cutoff: a bug belongs to one project, so it
follows that project's cutoff, and its count, first and last seen and history stay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from store.elasticsearch.counts import move_to_base
from store.elasticsearch.mapping import EVENT_PATHS, IndexNames
from store.elasticsearch.query import es_date
from store.retention import Cutoffs

_PROJECT = EVENT_PATHS["project_id"]
#: Bugs moved to base and events deleted per request.
CHUNK = 1000


def purge(es: Elasticsearch, names: IndexNames, cutoffs: Cutoffs) -> dict[str, int]:
    """Delete what `cutoffs` drops; {project id: occurrences dropped}."""
    es.indices.refresh(index=names.events_pattern)
    groups = _groups(cutoffs)
    old = {"bool": {"should": [query for _, query in groups], "minimum_should_match": 1}}
    dropped = {str(k): n for k, n in _buckets(es, names, old, _PROJECT).items()}
    if not dropped:
        return {}
    for cutoff, query in groups:
        bug_ids = sorted(int(k) for k in _buckets(es, names, query, "bug_id"))
        for start in range(0, len(bug_ids), CHUNK):
            move_to_base(es, names, bug_ids[start : start + CHUNK], cutoff)
    es.indices.refresh(index=names.bugs)
    _delete(es, names, cutoffs.earliest(), old)
    return dict(sorted(dropped.items()))


def _before(cutoff: datetime) -> dict[str, Any]:
    return {"range": {"@timestamp": {"lt": es_date(cutoff)}}}


def _groups(cutoffs: Cutoffs) -> list[tuple[datetime, dict[str, Any]]]:
    """(cutoff, the query of the occurrences it drops): one per distinct project cutoff, and
    the default for every project not named."""
    groups: list[tuple[datetime, dict[str, Any]]] = [
        (cutoff, {"bool": {"filter": [{"terms": {_PROJECT: sorted(ids)}}, _before(cutoff)]}})
        for cutoff, ids in sorted(cutoffs.groups().items())
    ]
    default: dict[str, Any] = {"filter": [_before(cutoffs.default)]}
    if cutoffs.projects:
        default["must_not"] = [{"terms": {_PROJECT: sorted(cutoffs.projects)}}]
    groups.append((cutoffs.default, {"bool": default}))
    return groups


def _buckets(
    es: Elasticsearch, names: IndexNames, query: dict[str, Any], field: str
) -> dict[Any, int]:
    """{value of `field`: occurrences} among the occurrences `query` matches (every page)."""
    found: dict[Any, int] = {}
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": 1000, "sources": [{"k": {"terms": {"field": field}}}]}
        if after:
            composite["after"] = after
        resp = es.search(
            index=names.events_pattern,
            size=0,
            query=query,
            aggs={"values": {"composite": composite}},
        )
        if "aggregations" not in resp.body:  # no daily index at all yet
            return found
        agg = resp["aggregations"]["values"]
        found.update((b["key"]["k"], int(b["doc_count"])) for b in agg["buckets"])
        after = agg.get("after_key")
        if not agg["buckets"] or after is None:
            return found


def _delete(es: Elasticsearch, names: IndexNames, earliest: datetime, old: dict[str, Any]) -> None:
    """Drop whole daily indices before the earliest cutoff's day; delete documents on the
    others."""
    utc = earliest.astimezone(UTC) if earliest.tzinfo else earliest.replace(tzinfo=UTC)
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    indices = es.indices.get(index=names.events_pattern)
    doomed = [i for i in indices if (d := names.day_of(i)) is not None and d < day]
    for start in range(0, len(doomed), 50):
        es.indices.delete(index=",".join(doomed[start : start + 50]))
    rest = ",".join(i for i in indices if i not in doomed)
    while rest:
        hits = es.search(index=rest, query=old, size=CHUNK, source=False, sort=["_doc"])["hits"][
            "hits"
        ]
        if not hits:
            return
        es.bulk(
            operations=[{"delete": {"_index": h["_index"], "_id": h["_id"]}} for h in hits],
            refresh=True,
        )
