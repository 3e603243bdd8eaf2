"""Parity: the same seeded data in SQLite and Elasticsearch answers every query the same way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from store import open_store
from store.base import Store
from store.elasticsearch import ElasticsearchStore
from store.errors import QueryError
from store.search import BugQuery, EventQuery
from tests.store.datagen import START, generate

pytestmark = [pytest.mark.es, pytest.mark.slow]


@pytest.fixture(scope="module")
def stores(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Store]]:
    data = generate()
    sqlite = open_store(f"sqlite:///{tmp_path_factory.mktemp('parity') / 'parity.db'}")
    es = ElasticsearchStore(es_url, index_prefix=f"parity{uuid.uuid4().hex[:8]}-")
    try:
        for store in (sqlite, es):
            store.init()
            data.seed(store)
        yield {"sqlite": sqlite, "elasticsearch": es}
    finally:
        sqlite.close()
        es.drop()
        es.close()


BUG_QUERIES: list[dict[str, Any]] = [
    {"q": ""},
    {"q": "连接"},
    {"q": "接口"},
    {"q": '"connection refused"'},
    {"q": 'message:"数据库连接超时"'},
    {"q": "project_id:shop-api AND level:error"},
    {"q": "error_type:Time*"},
    {"q": "upstr*"},
    {"q": "NOT source:runtime"},
    {"q": "line_number:[10 TO 100] AND -level:WARNING"},
    {"q": "count:[20 TO *]"},
    {"q": "(支付 OR payment) AND environment:prod"},
    {"q": 'stack_trace:"handler py"'},
    {"q": "first_seen:[2024-05-03 TO 2024-05-06}"},
    {"q": "status:FIXED OR status:verified OR regression_count:[1 TO *]"},
    {"q": "file_path:src/pay* timeout"},
    {"q": "session", "filters": {"project_id": ["shop-api", "user-svc"], "level": ["ERROR"]}},
    {"q": "", "filters": {"status": ["FIX_FAILED", "PENDING_FIX"]}, "sort": "-count",
     "page": 2, "size": 5},
]

EVENT_QUERIES: list[dict[str, Any]] = [
    {"q": "连接", "interval_seconds": 86400, "facets": ("project_id", "level"),
     "start": START + timedelta(days=2), "end": START + timedelta(days=8)},
    {"q": "service.name:pay-svc AND NOT log.level:INFO", "interval_seconds": 6 * 3600,
     "facets": ("environment", "version"), "filters": {"environment": ["prod", "staging"]}},
    {"q": "bug_id:[1 TO 50] OR timeout", "interval_seconds": 3600,
     "facets": ("error_type", "source", "file_path")},
]

BAD_QUERIES = ['message:"unclosed', "nosuchfield:x", "line_number:[a TO"]


def _bug_answer(store: Store, spec: dict[str, Any]) -> dict[str, Any]:
    query = BugQuery(**{"sort": "id", "size": 500, **spec})
    page = store.search_bugs(query)
    return {"total": page.total, "ids": [b.id for b in page.items],
            "counts": [b.count for b in page.items], "facets": page.facets}


def _event_answer(store: Store, spec: dict[str, Any]) -> dict[str, Any]:
    page = store.search_events(EventQuery(**{"size": 100, **spec}))
    return {"total": page.total, "ids": [e.id for e in page.items],
            "histogram": page.histogram, "facets": page.facets}


def test_the_data_set_is_large_enough(stores: dict[str, Store]) -> None:
    for store in stores.values():
        everything = store.search_events(EventQuery(interval_seconds=86400))
        assert everything.total == 5000
        assert sum(b.count for b in everything.histogram) == 5000
        assert store.search_bugs(BugQuery(size=0)).total == 300


@pytest.mark.parametrize("spec", BUG_QUERIES, ids=lambda s: s["q"] or str(s.get("filters")))
def test_bug_queries_agree(stores: dict[str, Store], spec: dict[str, Any]) -> None:
    sqlite, es = (_bug_answer(stores[name], spec) for name in ("sqlite", "elasticsearch"))
    assert es == sqlite
    if spec["q"]:
        assert 0 < sqlite["total"] < 300, "a query that selects nothing or all tells little"


@pytest.mark.parametrize("spec", EVENT_QUERIES, ids=lambda s: s["q"])
def test_event_queries_agree(stores: dict[str, Store], spec: dict[str, Any]) -> None:
    sqlite, es = (_event_answer(stores[name], spec) for name in ("sqlite", "elasticsearch"))
    assert es == sqlite
    assert 0 < sqlite["total"] < 5000
    assert sum(b.count for b in sqlite["histogram"]) == sqlite["total"]


def test_cursor_walks_agree(stores: dict[str, Store]) -> None:
    walks: dict[str, list[int]] = {}
    for name, store in stores.items():
        ids: list[int] = []
        cursor: str | None = None
        while True:
            page = store.search_bugs(BugQuery(q="NOT 连接", sort="-last_seen", size=37,
                                              cursor=cursor))
            ids.extend(b.id for b in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        walks[name] = ids
    assert walks["elasticsearch"] == walks["sqlite"]
    assert len(set(walks["sqlite"])) == len(walks["sqlite"]) > 37


@pytest.mark.parametrize("q", BAD_QUERIES)
def test_bad_queries_fail_alike(stores: dict[str, Store], q: str) -> None:
    for store in stores.values():
        with pytest.raises(QueryError):
            store.search_bugs(BugQuery(q=q))
        with pytest.raises(QueryError):
            store.search_events(EventQuery(q=q))
