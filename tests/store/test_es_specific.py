"""Elasticsearch-only behaviour: index layout, ECS documents, crash-safe counting, racing starts."""

from __future__ import annotations

import functools
import multiprocessing
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store.elasticsearch import ElasticsearchStore
from store.elasticsearch.mapping import TEMPLATE_VERSION
from store.elasticsearch.merge import point_aliases, take_counts
from store.models import BugCreate, Event
from store.retention import Cutoffs
from store.search import EventQuery

pytestmark = pytest.mark.es

T0 = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
Opener = Callable[[], ElasticsearchStore]


@pytest.fixture
def opener(es_url: str, es_prefix: str) -> Opener:
    return functools.partial(ElasticsearchStore, es_url, index_prefix=es_prefix)


@pytest.fixture
def store(opener: Opener) -> Iterator[ElasticsearchStore]:
    backend = opener()
    backend.init()
    yield backend
    backend.drop()
    backend.close()


def bug(bug_id: int, project_id: str = "shop") -> BugCreate:
    return BugCreate(id=bug_id, fingerprint=f"fp-{bug_id}", project_id=project_id,
                     error_type="KeyError", message="missing key", first_seen=T0)


def event(event_id: str, bug_id: int, at: datetime, **fields: Any) -> Event:
    return Event(id=event_id, bug_id=bug_id, fingerprint=f"fp-{bug_id}", timestamp=at,
                 **{"project_id": "shop", **fields})


def test_templates_carry_the_version(store: ElasticsearchStore) -> None:
    prefix = store.names.prefix
    found = store.es.indices.get_index_template(name=f"{prefix}*")["index_templates"]
    versions = {t["name"]: t["index_template"]["version"] for t in found}
    assert versions == {f"{prefix}{n}": TEMPLATE_VERSION
                        for n in ("bugs", "projects", "repairs", "searches", "meta", "events",
                                  "alert-channels", "alert-rules", "alert-deliveries",
                                  "bug-aliases")}
    bugs = store.names.bugs_generation  # what the alias `<prefix>bugs` names
    settings = store.es.indices.get_settings(index=f"{prefix}bugs")[bugs]["settings"]
    assert (settings["index"]["number_of_shards"], settings["index"]["number_of_replicas"]) == (
        "1", "0")


def test_a_newer_template_is_not_downgraded(store: ElasticsearchStore) -> None:
    name = f"{store.names.prefix}bugs"
    body = store.names.templates(1, 0)[name]
    store.es.indices.put_index_template(name=name, **{**body, "version": TEMPLATE_VERSION + 1})
    store.init()
    found = store.es.indices.get_index_template(name=name)["index_templates"][0]
    assert found["index_template"]["version"] == TEMPLATE_VERSION + 1


def test_projects_stored_before_three_state_auto_repair_read_as_unset(
    store: ElasticsearchStore,
) -> None:
    # Before template 3 every project stored `false` unless someone turned auto_repair on.
    for project, auto in (("shop", False), ("blog", True), ("wiki", False)):
        store.update_project(project, {"auto_repair": auto, "local_path": f"/src/{project}"})
    name = store.names.projects
    body = store.names.templates(1, 0)[name]
    store.es.indices.put_index_template(name=name, **{**body, "version": 2})
    store.init()
    found = {p.project_id: (p.auto_repair, p.local_path) for p in store.list_projects()}
    assert found == {"shop": (None, "/src/shop"), "blog": (True, "/src/blog"),
                     "wiki": (None, "/src/wiki")}
    template = store.es.indices.get_index_template(name=name)["index_templates"][0]
    assert template["index_template"]["version"] == TEMPLATE_VERSION
    # Once upgraded, a false someone sets stays false.
    store.update_project("shop", {"auto_repair": False})
    store.init()
    assert store.get_project("shop").auto_repair is False  # type: ignore[union-attr]


def test_projects_stored_before_public_keys_get_one_each(store: ElasticsearchStore) -> None:
    kept = store.update_project("shop", {"name": "Shop"}).public_key
    for project in ("blog", "wiki"):
        doc = store.update_project(project, {}).model_dump(mode="json", exclude={"public_key"})
        store.es.index(index=store.names.projects, id=project, document=doc, refresh=True)
    name = store.names.projects
    body = store.names.templates(1, 0)[name]
    store.es.indices.put_index_template(name=name, **{**body, "version": 4})
    store.init()
    keys = {p.project_id: p.public_key for p in store.list_projects()}
    assert keys["shop"] == kept and len(set(keys.values())) == 3
    assert all(re.fullmatch("[0-9a-f]{32}", str(k)) for k in keys.values())


def test_events_are_ecs_documents_in_daily_indices(store: ElasticsearchStore) -> None:
    store.create_bugs([bug(1)])
    store.add_events([
        event("e1", 1, T0, error_type="KeyError", message="缺少 key", level="WARNING",
              environment="prod", version="1.2", stack_trace=["at a", "at b"],
              context={"deep": {"a": {"b": [1, 2]}}, "weird key": 1}),
        event("e2", 1, T0 + timedelta(hours=1)),
    ])
    prefix = store.names.prefix
    indices = sorted(store.es.indices.get(index=f"{prefix}events-*"))
    assert indices == [f"{prefix}events-2024.03.01", f"{prefix}events-2024.03.02"]
    doc = store.es.get(index=f"{prefix}events-2024.03.01", id="e1")["_source"]
    assert doc["@timestamp"].startswith("2024-03-01T23:30:00")
    assert doc["error"]["type"] == "KeyError" and doc["error"]["message"] == "缺少 key"
    assert doc["error"]["stack_trace"] == ["at a", "at b"]
    assert doc["log"]["level"] == "WARNING"
    assert doc["service"] == {"name": "shop", "environment": "prod", "version": "1.2"}
    assert doc["tokens"]["message"] == "缺 少 key"
    # Arbitrary context keys never reach the mapping.
    mapping = store.es.indices.get_mapping(index=indices[0])[indices[0]]["mappings"]
    assert mapping["properties"]["context"] == {"type": "object", "enabled": False}
    stored = store.get_events(1).items
    assert [e.id for e in stored] == ["e2", "e1"]
    assert stored[1].context == {"deep": {"a": {"b": [1, 2]}}, "weird key": 1}


def test_a_batch_redelivered_after_a_crash_counts_once(store: ElasticsearchStore) -> None:
    store.create_bugs([bug(1)])
    batch = [event(f"e{i}", 1, T0 + timedelta(minutes=i)) for i in range(5)]
    # The crash: events written, bugs never updated.
    store._create_events(batch[:3])
    occurrences = store.add_events(batch)
    assert [(o.bug_id, o.count) for o in occurrences] == [(1, 2)]
    stored = store.get_bug(1)
    assert stored is not None and stored.count == 5
    assert stored.last_seen == T0 + timedelta(minutes=4)
    assert store.add_events(batch) == []
    assert store.get_bug(1).count == 5  # type: ignore[union-attr]


def test_a_merge_cut_short_is_finished_by_running_it_again(store: ElasticsearchStore) -> None:
    store.create_bugs([bug(1), bug(2)])
    store.add_events([event(f"a{i}", 1, T0 + timedelta(days=i)) for i in range(3)]
                     + [event(f"b{i}", 2, T0 + timedelta(days=i, minutes=1)) for i in range(2)])
    store.purge_events(Cutoffs(T0 + timedelta(hours=1)))  # a0, b0 go into the count_base
    merged = store._bug_doc(2)
    assert merged is not None
    # The crash: the alias written and the counts taken, the events never moved.
    point_aliases(store.es, store.names, merged, 1)
    take_counts(store.es, store.names, store._bug_doc, 1, merged, None)
    assert store.get_bug(1).count == 5  # type: ignore[union-attr]
    again = store.merge_bugs(1, [2])
    assert again.count == 5 and sum("merged bug 2" in (h.reason or "")
                                    for h in again.status_history) == 1
    assert store.get_bug(2) is None and store.get_events(1).total == 3
    # A recount (a redelivered event) agrees: count_base + stored events stays exact.
    store.add_events([event("b1", 2, T0 + timedelta(days=1, minutes=1)),
                      event("c", 2, T0 + timedelta(days=4))])
    assert store.get_bug(1).count == 6  # type: ignore[union-attr]


def test_purge_drops_old_days_and_keeps_counts(store: ElasticsearchStore) -> None:
    store.create_bugs([bug(1)])
    store.add_events([event(f"d{day}-{n}", 1, T0 + timedelta(days=day, minutes=n))
                      for day in range(4) for n in range(2)])
    cutoff = T0 + timedelta(days=2, minutes=1)
    assert store.purge_events(Cutoffs(cutoff)) == {"shop": 5}
    prefix = store.names.prefix
    # Whole days before the cutoff's day are dropped; that day keeps its later events.
    assert sorted(store.es.indices.get(index=f"{prefix}events-*")) == [
        f"{prefix}events-2024.03.03", f"{prefix}events-2024.03.04"]
    assert store.search_events(EventQuery()).total == 3
    assert store.get_bug(1).count == 8  # type: ignore[union-attr]
    store.add_events([event("late", 1, T0 + timedelta(days=5))])
    assert store.get_bug(1).count == 9  # type: ignore[union-attr]
    assert store.purge_events(Cutoffs(cutoff)) == {}


def test_purge_drops_whole_days_only_past_the_longest_retention(
    store: ElasticsearchStore,
) -> None:
    store.create_bugs([bug(1), bug(2, project_id="blog")])
    store.add_events([event(f"{b}-{day}", b, T0 + timedelta(days=day),
                            project_id="shop" if b == 1 else "blog")
                      for b in (1, 2) for day in range(4)])
    # blog keeps longer than the default: its cutoff bounds the days dropped whole.
    cutoffs = Cutoffs(T0 + timedelta(days=3), {"blog": T0 + timedelta(days=1, minutes=1)})
    assert store.purge_events(cutoffs) == {"blog": 2, "shop": 3}
    prefix = store.names.prefix
    assert sorted(store.es.indices.get(index=f"{prefix}events-*")) == [
        f"{prefix}events-2024.03.02", f"{prefix}events-2024.03.03", f"{prefix}events-2024.03.04"]
    assert [e.id for e in store.get_events(1).items] == ["1-3"]
    assert [e.id for e in store.get_events(2).items] == ["2-3", "2-2"]
    assert [store.get_bug(b).count for b in (1, 2)] == [4, 4]  # type: ignore[union-attr]


def _add_in_child(opener: Opener, events: list[Event], barrier: Any) -> None:
    store = opener()
    store.init()
    barrier.wait(timeout=60)
    store.add_events(events)
    store.close()


def test_processes_adding_overlapping_batches_count_each_event_once(
    store: ElasticsearchStore, opener: Opener
) -> None:
    store.create_bugs([bug(1), bug(2)])
    events = [event(f"e{i}", 1 + i % 2, T0 + timedelta(seconds=i)) for i in range(60)]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    batches = [events[0:40], events[20:60], events[10:50]]
    procs = [ctx.Process(target=_add_in_child, args=(opener, b, barrier)) for b in batches]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    assert (store.get_bug(1).count, store.get_bug(2).count) == (30, 30)  # type: ignore[union-attr]


def _init_in_child(opener: Opener, barrier: Any) -> None:
    store = opener()
    barrier.wait(timeout=60)
    store.init()
    store.close()


def test_processes_starting_at_once_all_initialize(es_url: str, es_prefix: str) -> None:
    opener = functools.partial(ElasticsearchStore, es_url, index_prefix=es_prefix)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_init_in_child, args=(opener, barrier)) for _ in range(4)]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
            assert proc.exitcode == 0
    finally:
        cleaner = opener()
        assert cleaner.es.indices.exists(index=f"{es_prefix}bugs")
        cleaner.drop()
        cleaner.close()
