"""Disk per occurrence: what a store holds for the seeded events, divided by their number.

SQLite: the pages in use (page count less the free list, so space a delete freed inside the
file does not count) times the page size, for the whole file. Elasticsearch: the store size of
the events indices (primaries and any replicas on the node).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, cast

from store.base import Store

if TYPE_CHECKING:
    from store.elasticsearch import ElasticsearchStore
    from store.sqlite import SQLiteStore


def bytes_in_use(store: Store, backend: str) -> int:
    """Bytes `store` uses for its data (see the module docstring)."""
    if backend == "sqlite":
        path = cast("SQLiteStore", store).path
        with sqlite3.connect(path) as conn:
            pages, free, size = (
                int(conn.execute(f"PRAGMA {name}").fetchone()[0])
                for name in ("page_count", "freelist_count", "page_size")
            )
        conn.close()
        return (pages - free) * size
    es_store = cast("ElasticsearchStore", store)
    pattern = es_store.names.events_pattern
    es_store.es.indices.refresh(index=pattern)
    stats = es_store.es.indices.stats(index=pattern, metric="store")
    return int(stats["_all"]["total"]["store"]["size_in_bytes"])


def per_occurrence(store: Store, backend: str, events: int) -> float:
    """Bytes in use per seeded event."""
    return bytes_in_use(store, backend) / max(events, 1)
