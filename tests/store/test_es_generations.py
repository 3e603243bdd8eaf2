"""An install made before template 4 upgrades in place: its bugs move to a versioned index at
init without losing one, and `logcenter es-reindex`'s copy of older days runs while the store
is written and searched, never counting an occurrence twice."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.cli import main
from config.settings import get_settings
from store.elasticsearch import ElasticsearchStore
from store.elasticsearch.generation import (
    LEASE_STALE_S,
    DayProgress,
    Lease,
    reindex_events,
    stale_days,
)
from store.errors import StoreError, Unavailable
from store.models import BugCreate, Event
from store.search import BugQuery, EventQuery

pytestmark = pytest.mark.es

T0 = datetime(2026, 3, 1, 6, tzinfo=UTC)
MESSAGES = ("connection refused by upstream", "数据库连接超时", "支付接口返回错误")


def _as_before_4(properties: dict[str, Any]) -> dict[str, Any]:
    """A mapping's properties as template 3 had them: texts stored only, no aliases."""
    out: dict[str, Any] = {}
    for name, spec in properties.items():
        if spec.get("type") == "alias":
            continue
        if "properties" in spec:
            inner = _as_before_4(spec["properties"])
            if inner:
                out[name] = {**spec, "properties": inner}
        elif spec == {"type": "text", "norms": False}:
            out[name] = {"type": "text", "index": False}
        else:
            out[name] = spec
    return out


def old_install(es_url: str, prefix: str) -> ElasticsearchStore:
    """A node as Log Center left it before template 4 (bugs in a plain index), and a store
    writing to it as that version did: not initialised, so nothing is upgraded yet."""
    store = ElasticsearchStore(es_url, index_prefix=prefix)
    names = store.names
    for name, body in copy.deepcopy(names.templates(1, 0)).items():
        mapping = body["template"]["mappings"]
        mapping["properties"] = _as_before_4(mapping["properties"])
        mapping["_meta"] = {"logcenter_version": 3}
        body["template"]["settings"].pop("index.query.default_field", None)
        body["index_patterns"] = body["index_patterns"][:1]
        if name == names.bugs:
            body["index_patterns"] = [names.bugs]
        store.es.indices.put_index_template(name=name, **{**body, "version": 3})
    for index in (*names.fixed, names.bugs):
        store.es.indices.create(index=index)
    return store


def bug(bug_id: int) -> BugCreate:
    return BugCreate(id=bug_id, fingerprint=f"fp-{bug_id}", project_id="rtc_backend",
                     error_type="ConnectionError", message=MESSAGES[bug_id % 3], first_seen=T0)


def events(bug_ids: range, days: int, per_day: int, tag: str) -> list[Event]:
    out = []
    for day in range(days):
        for n in range(per_day):
            bug_id = bug_ids[n % len(bug_ids)]
            out.append(Event(
                id=f"{tag}-{day}-{n}", bug_id=bug_id, fingerprint=f"fp-{bug_id}",
                timestamp=T0 + timedelta(days=day, minutes=n), project_id="rtc_backend",
                level="ERROR", error_type="ConnectionError", message=MESSAGES[bug_id % 3]))
    return out


@pytest.fixture
def old(es_url: str, es_prefix: str) -> Iterator[ElasticsearchStore]:
    store = old_install(es_url, es_prefix)
    store.create_bugs([bug(i) for i in range(1, 7)])
    store.add_events(events(range(1, 7), days=3, per_day=60, tag="old"))
    store.update_bug(2, {"status": "FIXED"})
    yield store
    store.drop()
    store.close()


def answers(store: ElasticsearchStore) -> dict[str, Any]:
    bugs = store.search_bugs(BugQuery(size=100, sort="id")).items
    everything = store.search_events(EventQuery(size=0, interval_seconds=86400))
    return {"bugs": [b.model_dump() for b in bugs], "events": everything.total,
            "days": everything.histogram}


def kibana_count(store: ElasticsearchStore, index: str, q: str) -> tuple[int, int]:
    """(hits, failed shards) of `q` sent as Kibana's Lucene mode sends it."""
    query = {"query_string": {"query": q, "analyze_wildcard": True}}
    resp = store.es.search(index=index, query=query, size=0, track_total_hits=True)
    return int(resp["hits"]["total"]["value"]), int(resp["_shards"]["failed"])


def test_init_moves_the_bugs_to_a_versioned_index_without_losing_one(
    old: ElasticsearchStore,
) -> None:
    names = old.names
    before = answers(old)
    assert kibana_count(old, names.bugs, "message:timeout")[0] == 0  # stored, not searchable
    # Processes starting together: one copies the bugs, the others wait for it.
    stores = [ElasticsearchStore(old.url, index_prefix=names.prefix) for _ in range(3)]
    threads = [threading.Thread(target=s.init) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert list(old.es.indices.get_alias(name=names.bugs)) == [names.bugs_generation]
    assert answers(old) == before
    assert kibana_count(old, names.bugs, "message:upstream AND service.name:rtc_*") == (2, 0)
    # Writes go on through the alias, under optimistic concurrency as before.
    old.update_bug(2, {"status": "VERIFIED"})
    old.add_events(events(range(1, 3), days=1, per_day=4, tag="new"))
    assert old.get_bug(1).count == 30 + 2  # type: ignore[union-attr]
    for s in stores:
        s.init()  # again: nothing left to do
        s.close()
    assert answers(old)["events"] == 184


def test_reindex_copies_old_days_while_the_store_is_written_and_searched(
    old: ElasticsearchStore,
) -> None:
    names = old.names
    old.init()
    assert len(stale_days(old.es, names)) == 3
    # Old days already answer Log Center's names (aliases were added), not their texts.
    assert kibana_count(old, names.events_pattern, "project_id:rtc_backend") == (180, 0)
    written = Writer(ElasticsearchStore(old.url, index_prefix=names.prefix), T0 + timedelta(days=1))
    checks: list[DayProgress] = []

    def check(progress: DayProgress) -> None:
        acked = written.acked
        total = old.search_events(EventQuery(size=0)).total
        assert acked + 180 <= total <= written.attempted + 180, "counted twice or lost"
        checks.append(progress)

    written.start()
    try:
        assert reindex_events(old.es, names, progress=check, page=15) == 3
    finally:
        written.stop()
    assert [c.position for c in checks if c.copied == 0] == [1, 2, 3]
    assert len(checks) > 12
    assert stale_days(old.es, names) == []
    day = T0 + timedelta(days=1)
    assert list(old.es.indices.get_alias(name=names.events_for(day))) == [
        names.events_generation(day)]
    # Every occurrence once, every bug's count matches its occurrences.
    total = 180 + written.acked
    assert old.search_events(EventQuery(size=0)).total == total == written.attempted + 180
    for b in old.search_bugs(BugQuery(size=100)).items:
        page = old.get_events(b.id, size=0)
        assert b.count == page.total
    # And now the old days' texts are searchable from Kibana, as Log Center finds them.
    q = 'error.message:"connection refused"'
    assert kibana_count(old, names.events_pattern, q) == (
        old.search_events(EventQuery(q=q, size=0)).total, 0)
    assert kibana_count(old, names.events_pattern, '"连接"')[0] > 0


class Writer:
    """Reports keep arriving for the days being copied, as an indexer would write them: a
    batch refused while a day is write-blocked (Unavailable) is sent again."""

    def __init__(self, store: ElasticsearchStore, day: datetime) -> None:
        self.store = store
        self.day = day
        self.acked = 0
        self.attempted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.store.close()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            batch = [Event(id=f"w{n}-{i}", bug_id=i % 6 + 1, fingerprint=f"fp-{i % 6 + 1}",
                           timestamp=self.day + timedelta(days=i % 2, seconds=n),
                           project_id="rtc_backend", message=MESSAGES[i % 3])
                     for i in range(4)]
            self.attempted += len(batch)
            while True:
                try:
                    self.store.add_events(batch)
                    break
                except Unavailable:
                    time.sleep(0.05)
            self.acked += len(batch)
            n += 1
            time.sleep(0.02)


def test_one_reindex_at_a_time_with_progress_shown(
    old: ElasticsearchStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOGCENTER_STORE_URL", old.url)
    monkeypatch.setenv("LOGCENTER_ES_INDEX_PREFIX", old.names.prefix)
    get_settings.cache_clear()
    try:
        assert main(["es-reindex", "--dry-run"]) == 0
        assert "3 days (180 occurrences) to rewrite" in capsys.readouterr().out
        holder = Lease(old.es, old.names.meta, "lease-events")
        assert holder.acquire()
        with pytest.raises(StoreError, match="another reindex is running"):
            main(["es-reindex"])
        # A holder silent for longer than LEASE_STALE_S died: its lease is taken over.
        stale = int((time.time() - LEASE_STALE_S - 5) * 1000)
        old.es.index(index=old.names.meta, id="lease-events", document={"value": stale})
        assert main(["es-reindex", "--every", "0"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["3 days (180 occurrences) to rewrite"] * 2  # the refused run said it too
    assert f"day 1/3 (2026-03-03, {old.names.prefix}events-2026.03.03): 0 of 60" in out[2]
    assert out[-2].startswith("day 3/3 (2026-03-01")
    assert out[-2].endswith("60 of 60 occurrences (100%)")
    assert out[-1] == "done: 3 days rewritten; every day is searchable from Kibana"
    with pytest.raises(StoreError, match="taken over"):
        holder.renew()
