"""SQLite search plans: the paths a search takes by the size of its full-text match answer alike.

A full-text node that must hold pins the events' text index, and a page of many hits walks the
events in time order instead; a text node under OR leaves both to the planner. The same query
written both ways must give the same pages, totals, facets and histogram.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.search import BugQuery, EventQuery
from store.sqlite import SQLiteStore
from store.sqlite.search import _dense
from tests.store.datagen import generate

PAGE = 50


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    path: Path = tmp_path_factory.mktemp("plans") / "store.db"
    opened = SQLiteStore(f"sqlite:///{path}")
    opened.init()
    generate().seed(opened)
    yield opened
    opened.close()


def _all_pages(store: SQLiteStore, **query: Any) -> tuple[list[str], dict[str, Any]]:
    ids: list[str] = []
    first: dict[str, Any] = {}
    cursor = None
    while True:
        page = store.search_events(EventQuery(size=PAGE, cursor=cursor, **query))
        first = first or page.model_dump(exclude={"items", "next_cursor"})
        ids.extend(e.id for e in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return ids, first


@pytest.mark.parametrize("word", ["handler", "upstream", "连接"])
@pytest.mark.parametrize("sort", ["-timestamp", "timestamp"])
def test_event_pages_alike_pinned_or_planned(store: SQLiteStore, word: str, sort: str) -> None:
    common = {"sort": sort, "interval_seconds": 6 * 3600,
              "facets": ("project_id", "environment", "version")}  # fmt: skip
    pinned, pinned_first = _all_pages(store, q=f"{word} AND NOT level:INFO", **common)
    planned, planned_first = _all_pages(store, q=f"({word} OR {word}) AND NOT level:INFO", **common)
    assert pinned == planned
    assert pinned_first == planned_first
    assert len(pinned) == len(set(pinned)) == pinned_first["total"] > 0
    assert sum(b["count"] for b in pinned_first["histogram"]) == pinned_first["total"]
    if word == "handler":  # dense enough for the time-ordered walk
        assert _dense(store._connection(), pinned_first["total"], PAGE)
    if word == "连接":
        assert not _dense(store._connection(), pinned_first["total"], PAGE)


def test_event_page_offsets_alike(store: SQLiteStore) -> None:
    for page in (1, 3, 7):
        pinned = store.search_events(EventQuery(q="handler", page=page, size=PAGE))
        planned = store.search_events(EventQuery(q="handler OR handler", page=page, size=PAGE))
        assert [e.id for e in pinned.items] == [e.id for e in planned.items]
        assert len(pinned.items) == PAGE


def test_repeated_facet_counts_once(store: SQLiteStore) -> None:
    page = store.search_events(EventQuery(q="upstream", facets=("level", "level", "version")))
    assert sum(f.count for f in page.facets["level"]) == page.total > 0
    bugs = store.search_bugs(BugQuery(q="upstream", facets=("level", "level")))
    assert sum(f.count for f in bugs.facets["level"]) == bugs.total > 0


@pytest.mark.parametrize("sort", ["-last_seen", "first_seen", "-count", "id"])
def test_bug_pages_of_a_large_match_walk_the_sort_index(tmp_path: Path, sort: str) -> None:
    opened = SQLiteStore(f"sqlite:///{tmp_path / 'bugs.db'}")
    opened.init()
    generate(n_bugs=3_000, n_events=3_000).seed(opened)
    ids: list[int] = []
    cursor = None
    while True:
        page = opened.search_bugs(BugQuery(q="handler", sort=sort, size=PAGE, cursor=cursor))
        ids.extend(b.id for b in page.items)
        if (cursor := page.next_cursor) is None:
            break
    column = sort.removeprefix("-")
    bugs = [opened.get_bug(i) for i in ids]
    expected = sorted(bugs, key=lambda b: (getattr(b, column), b.id), reverse=sort[0] == "-")
    assert ids == [b.id for b in expected]
    assert len(set(ids)) == page.total >= 2_000
    opened.close()
