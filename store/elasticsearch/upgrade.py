"""Rewriting stored documents whose meaning changed with a template version.

Mappings only grow (new fields come with `put_mapping`), but a value can change meaning: this
module turns such values into what they mean now, once, when `init` finds a template older
than the one that changed them. No scripts and no `_update_by_query` (the node may lack the
reindex module): documents are read and written back with optimistic concurrency, and one that
changed meanwhile is left as its writer made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from elasticsearch import Elasticsearch

from store.elasticsearch.client import bulk_conflicts
from store.models import new_public_key

#: Template 3: `auto_repair` gained a third state. Until then every project stored `false`
#: unless someone turned it on, so `false` meant "the default": now that is null (absent).
THREE_STATE_AUTO_REPAIR = 3
#: Template 7: projects gained `public_key`; those made before get one each.
PUBLIC_KEYS = 7
_PAGE = 1000


def upgrade_projects(es: Elasticsearch, index: str, from_version: int) -> None:
    """Bring project documents written under template `from_version` up to date."""
    if from_version < THREE_STATE_AUTO_REPAIR:
        _rewrite(es, index, {"term": {"auto_repair": False}}, lambda: {"auto_repair": None})
    if from_version < PUBLIC_KEYS:
        missing = {"bool": {"must_not": {"exists": {"field": "public_key"}}}}
        _rewrite(es, index, missing, lambda: {"public_key": new_public_key()})


def _rewrite(
    es: Elasticsearch,
    index: str,
    query: dict[str, Any],
    change: Callable[[], dict[str, Any]],
) -> None:
    """Apply `change` to every document `query` matches, until none does."""
    es.indices.refresh(index=index)
    while True:
        hits = es.search(index=index, query=query, size=_PAGE, seq_no_primary_term=True)["hits"][
            "hits"
        ]
        operations: list[dict[str, object]] = []
        for hit in hits:
            target = {"_index": index, "_id": hit["_id"], "if_seq_no": hit["_seq_no"]}
            target["if_primary_term"] = hit["_primary_term"]
            operations += [{"index": target}, {**hit["_source"], **change()}]
        if not operations:
            return
        bulk_conflicts(es, operations, refresh=True)  # a conflict: its writer's value stays
        if len(hits) < _PAGE:
            return
