"""The store contract: what every backend promises, written once.

A backend binds each class in one line (`class TestX(contract.XContract): pass`) and provides
two fixtures:

- `store`: an initialized store.base.Store of the test's own, empty at start;
- `store_opener`: a picklable zero-argument callable that opens another, not yet initialized,
  instance on the same data (used to re-open the store and from other processes).

Writes must be visible when they return, so nothing here waits or retries.
"""

from __future__ import annotations

import multiprocessing
import queue
import re
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store.base import Store
from store.errors import Conflict, NotFound, QueryError
from store.models import (
    BugCreate,
    BugOccurrences,
    Event,
    FilterPill,
    RepairReportIn,
    SavedSearchIn,
    StatusChange,
    ToolchainInfo,
)
from store.retention import Cutoffs
from store.search import MAX_BUCKETS, BugQuery, EventQuery

Opener = Callable[[], Store]

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def new_bug(bug_id: int, fingerprint: str | None = None, **fields: Any) -> BugCreate:
    data: dict[str, Any] = {
        "project_id": "shop",
        "error_type": "ValueError",
        "message": f"bug {bug_id}",
        "first_seen": T0,
    }
    data.update(fields)
    return BugCreate(id=bug_id, fingerprint=fingerprint or f"fp-{bug_id}", **data)


def new_event(event_id: str, bug_id: int, at: datetime, **fields: Any) -> Event:
    data: dict[str, Any] = {
        "fingerprint": f"fp-{bug_id}",
        "project_id": "shop",
        "error_type": "ValueError",
        "message": f"bug {bug_id}",
    }
    data.update(fields)
    return Event(id=event_id, bug_id=bug_id, timestamp=at, **data)


def seed_bug(store: Store, bug_id: int, **fields: Any) -> int:
    fingerprint = f"fp-{bug_id}"
    return store.create_bugs([new_bug(bug_id, fingerprint, **fields)])[fingerprint]


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def bug_ids(store: Store, q: str = "", **kwargs: Any) -> list[int]:
    page = store.search_bugs(BugQuery(q=q, size=500, sort="id", **kwargs))
    assert page.total == len(page.items)
    return [bug.id for bug in page.items]


def run_processes(target: Callable[..., Any], argsets: list[tuple[Any, ...]]) -> list[Any]:
    """Run `target(*args, barrier)` in one real process per argset; return what each returned.

    The barrier lets the children start their racing call together. A child's exception fails
    the test with the child's traceback.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(argsets)), ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(target, (*args, barrier), results)) for args in argsets
    ]
    for proc in procs:
        proc.start()
    collected = _collect(results, procs, deadline=time.monotonic() + 120)
    for proc in procs:
        proc.join(timeout=60)
    failures = [detail for ok, detail in collected if not ok]
    assert not failures, failures[0]
    return [value for _, value in collected]


def _collect(results: Any, procs: list[Any], deadline: float) -> list[tuple[bool, Any]]:
    """One result per process; fail at once when a child dies without reporting one."""
    collected: list[tuple[bool, Any]] = []
    while len(collected) < len(procs):
        try:
            collected.append(results.get(timeout=0.5))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            assert not dead, f"a child process died with exit code {dead[0]}"
            assert time.monotonic() < deadline, "child processes did not finish in time"
    return collected


def _child(target: Callable[..., Any], args: tuple[Any, ...], results: Any) -> None:
    try:
        results.put((True, target(*args)))
    except BaseException:
        results.put((False, traceback.format_exc()))


def _race_create(opener: Opener, fingerprint: str, bug_id: int, barrier: Any) -> int:
    """Child process: open the store, wait for the others, create the same fingerprint."""
    store = opener()
    store.init()
    barrier.wait(timeout=60)
    try:
        return store.create_bugs([new_bug(bug_id, fingerprint)])[fingerprint]
    finally:
        store.close()


def _race_add(opener: Opener, events: list[Event], barrier: Any) -> int:
    """Child process: deliver the same batch (flagged as a regression) as the others."""
    store = opener()
    store.init()
    barrier.wait(timeout=60)
    try:
        return sum(o.count for o in store.add_events(events, reopen_bug_ids={1}))
    finally:
        store.close()


class BugCreationContract:
    def test_create_stores_fields_and_defaults(self, store: Store) -> None:
        bug = new_bug(
            7,
            "fp-7",
            message="数据库连接超时",
            stack_trace=["a", "b"],
            context={"job_name": "build", "n": 3},
            file_path="app/x.py",
            line_number=12,
            environment="prod",
        )
        assert store.create_bugs([bug]) == {"fp-7": 7}
        stored = store.get_bug(7)
        assert stored is not None
        assert (stored.fingerprint, stored.message, stored.stack_trace) == (
            "fp-7",
            "数据库连接超时",
            ["a", "b"],
        )
        assert stored.context == {"job_name": "build", "n": 3}
        assert (stored.file_path, stored.line_number) == ("app/x.py", 12)
        assert stored.environment == "prod"
        assert (stored.status, stored.count, stored.regression_count) == ("NEW", 0, 0)
        assert stored.first_seen == stored.last_seen == T0
        assert stored.created_at.tzinfo is not None

    def test_existing_fingerprint_keeps_the_first_bug(self, store: Store) -> None:
        assert store.create_bugs([new_bug(1, "same")]) == {"same": 1}
        assert store.create_bugs([new_bug(2, "same", message="other")]) == {"same": 1}
        assert store.get_bug(2) is None
        assert store.get_bug(1).message == "bug 1"  # type: ignore[union-attr]

    def test_one_fingerprint_twice_in_a_batch(self, store: Store) -> None:
        result = store.create_bugs([new_bug(1, "dup"), new_bug(2, "dup"), new_bug(3, "x")])
        assert result == {"dup": 1, "x": 3}
        assert bug_ids(store) == [1, 3]

    def test_ids_by_fingerprint(self, store: Store) -> None:
        store.create_bugs([new_bug(1, "a"), new_bug(2, "b")])
        assert store.bug_ids_by_fingerprint(["a", "b", "zzz"]) == {"a": 1, "b": 2}
        assert store.bug_ids_by_fingerprint([]) == {}

    def test_iter_bug_keys(self, store: Store) -> None:
        store.create_bugs([new_bug(i, f"f{i}") for i in (3, 1, 2)])
        store.update_bug(2, {"status": "FIXED", "fixed_version": "1.3.0"})
        assert sorted(store.iter_bug_keys()) == [
            ("f1", 1, "NEW", None),
            ("f2", 2, "FIXED", "1.3.0"),
            ("f3", 3, "NEW", None),
        ]

    def test_processes_racing_on_one_fingerprint_get_one_bug(
        self, store: Store, store_opener: Opener
    ) -> None:
        ids = run_processes(_race_create, [(store_opener, "racy", 100 + n) for n in range(4)])
        assert len(set(ids)) == 1 and ids[0] in range(100, 104)
        assert bug_ids(store, "fingerprint:racy") == [ids[0]]


class BugUpdateContract:
    def test_partial_update_bumps_revision(self, store: Store) -> None:
        seed_bug(store, 1, message="old")
        before = store.get_bug(1)
        assert before is not None
        after = store.update_bug(1, {"status": "FIX_FAILED", "failure_reason": "tests failed"})
        assert (after.status, after.failure_reason, after.message) == (
            "FIX_FAILED",
            "tests failed",
            "old",
        )
        assert after.revision != before.revision
        assert store.get_bug(1) == after

    def test_identity_and_unknown_fields_are_refused(self, store: Store) -> None:
        seed_bug(store, 1)
        for changes in ({"id": 2}, {"fingerprint": "x"}, {"revision": 9}, {"nosuch": 1}):
            with pytest.raises(ValueError, match="update_bug: cannot change"):
                store.update_bug(1, changes)
        assert store.get_bug(1).fingerprint == "fp-1"  # type: ignore[union-attr]

    def test_stale_revision_is_refused(self, store: Store) -> None:
        seed_bug(store, 1)
        read = store.get_bug(1)
        assert read is not None
        store.update_bug(1, {"status": "FIXING"}, expected_revision=read.revision)
        with pytest.raises(Conflict):
            store.update_bug(1, {"status": "FIXED"}, expected_revision=read.revision)
        assert store.get_bug(1).status == "FIXING"  # type: ignore[union-attr]

    def test_history_is_appended(self, store: Store) -> None:
        seed_bug(store, 1)
        for old, new in (("NEW", "FIXING"), ("FIXING", "FIXED")):
            change = StatusChange.model_validate(
                {"from": old, "to": new, "at": T0, "reason": "r", "by": "agent"}
            )
            store.update_bug(1, {"status": new}, history=change)
        history = store.get_bug(1).status_history  # type: ignore[union-attr]
        assert [(h.from_, h.to, h.by) for h in history] == [
            ("NEW", "FIXING", "agent"),
            ("FIXING", "FIXED", "agent"),
        ]

    def test_unknown_bug(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.update_bug(404, {"status": "FIXED"})

    def test_updated_text_is_searchable(self, store: Store) -> None:
        seed_bug(store, 1)
        seed_bug(store, 2)
        store.update_bug(1, {"failure_reason": "patch did not apply"})
        assert bug_ids(store, 'failure_reason:"did not apply"') == [1]
        assert bug_ids(store, "status:FIX_FAILED") == []


class EventContract:
    def test_counts_are_exact_after_redelivery(self, store: Store) -> None:
        seed_bug(store, 1)
        seed_bug(store, 2)
        batch = [new_event(f"e{i}", 1 + i % 2, minutes(i)) for i in range(5)]
        first = store.add_events(batch)
        assert [(o.bug_id, o.count) for o in first] == [(1, 3), (2, 2)]
        assert store.add_events(batch) == []
        assert store.add_events(batch[:2] + [new_event("e9", 1, minutes(9))]) == [
            BugOccurrences(
                bug_id=1, count=1, first_seen=minutes(9), last_seen=minutes(9), versions=[None]
            )
        ]
        bug = store.get_bug(1)
        assert bug is not None
        assert (bug.count, bug.first_seen, bug.last_seen) == (4, T0, minutes(9))
        assert store.get_bug(2).count == 2  # type: ignore[union-attr]

    def test_processes_redelivering_one_batch_count_it_once(
        self, store: Store, store_opener: Opener
    ) -> None:
        seed_bug(store, 1)
        store.update_bug(1, {"status": "FIXED"})
        batch = [new_event(f"e{i:02}", 1, minutes(i)) for i in range(40)]
        added = run_processes(_race_add, [(store_opener, batch) for _ in range(3)])
        assert sum(added) == 40
        bug = store.get_bug(1)
        assert bug is not None
        assert (bug.count, bug.status, bug.regression_count) == (40, "NEW", 1)
        assert store.get_events(1, size=100).total == 40

    def test_first_seen_widens_backwards(self, store: Store) -> None:
        seed_bug(store, 1, first_seen=minutes(10))
        store.add_events([new_event("old", 1, minutes(-5))])
        bug = store.get_bug(1)
        assert bug is not None
        assert (bug.first_seen, bug.last_seen, bug.count) == (minutes(-5), minutes(10), 1)

    def test_events_of_unknown_bug_are_stored(self, store: Store) -> None:
        store.add_events([new_event("orphan", 999, T0)])
        page = store.get_events(999)
        assert [e.id for e in page.items] == ["orphan"]

    def test_get_events_newest_first_with_cursor(self, store: Store) -> None:
        seed_bug(store, 1)
        store.add_events([new_event(f"e{i:02}", 1, minutes(i // 2)) for i in range(11)])
        store.add_events([new_event("other", 2, minutes(3))])
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = store.get_events(1, size=4, cursor=cursor)
            assert page.total == 11
            seen += [e.id for e in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        expected = sorted((f"e{i:02}" for i in range(11)), key=lambda s: (int(s[1:]) // 2, s))
        assert seen == expected[::-1]
        assert [e.id for e in store.get_events(1, page=3, size=4).items] == seen[8:]

    def test_event_fields_round_trip(self, store: Store) -> None:
        event = new_event(
            "e1",
            1,
            T0,
            context={"k": ["v", 1]},
            stack_trace=["l1", "l2"],
            line_number=5,
            file_path="a.py",
            version="1.2",
            commit_hash="abc",
        )
        store.add_events([event])
        assert store.get_events(1).items == [event]

    def test_get_event_by_id_is_whole(self, store: Store) -> None:
        event = new_event("e1", 1, T0, context={"k": ["v", 1]}, stack_trace=["l1", "l2"])
        store.add_events([event, new_event("e2", 1, minutes(1))])
        assert store.get_event("e1") == event
        assert store.get_event("missing") is None

    def test_purge_keeps_counts(self, store: Store) -> None:
        seed_bug(store, 1)
        store.add_events([new_event(f"e{i}", 1, T0 + timedelta(days=i)) for i in range(5)])
        assert store.purge_events(Cutoffs(T0 + timedelta(days=3))) == {"shop": 3}
        assert [e.id for e in store.get_events(1).items] == ["e4", "e3"]
        assert store.search_events(EventQuery()).total == 2
        assert store.get_bug(1).count == 5  # type: ignore[union-attr]
        assert store.purge_events(Cutoffs(T0)) == {}

    def test_purge_of_a_store_without_occurrences_drops_nothing(self, store: Store) -> None:
        # An indexer purges once at its start, before any report: nothing to drop, no error.
        assert store.purge_events(Cutoffs(T0, {"shop": T0 - timedelta(days=1)})) == {}

    def test_purge_follows_each_projects_cutoff(self, store: Store) -> None:
        # shop keeps less than the default, docs more; blog follows the default.
        cutoffs = Cutoffs(
            T0 + timedelta(days=2),
            {"shop": T0 + timedelta(days=4), "docs": T0 + timedelta(days=1)},
        )
        projects = {1: "shop", 2: "blog", 3: "docs"}
        for bug_id, project in projects.items():
            seed_bug(store, bug_id, project_id=project)
        store.add_events(
            [
                new_event(f"{project}-{day}", bug_id, T0 + timedelta(days=day), project_id=project)
                for bug_id, project in projects.items()
                for day in range(6)
            ]
        )
        assert store.purge_events(cutoffs) == {"shop": 4, "blog": 2, "docs": 1}
        kept = {b: [e.id for e in store.get_events(b).items] for b in projects}
        assert kept == {
            1: ["shop-5", "shop-4"],
            2: ["blog-5", "blog-4", "blog-3", "blog-2"],
            3: ["docs-5", "docs-4", "docs-3", "docs-2", "docs-1"],
        }
        assert store.search_events(EventQuery()).total == 11
        for bug_id in projects:
            bug = store.get_bug(bug_id)
            assert bug is not None and bug.count == 6
            assert (bug.first_seen, bug.last_seen) == (T0, T0 + timedelta(days=5))
        assert store.purge_events(cutoffs) == {}
        store.add_events([new_event("shop-6", 1, T0 + timedelta(days=6), project_id="shop")])
        assert store.get_bug(1).count == 7  # type: ignore[union-attr]

    def test_late_event_behind_the_purge_cutoff_still_counts(self, store: Store) -> None:
        seed_bug(store, 1)
        store.add_events([new_event("e0", 1, T0 + timedelta(days=5))])
        store.purge_events(Cutoffs(T0 + timedelta(days=3)))
        # An occurrence stamped before the cutoff arrives after the purge (a client's clock,
        # a replay): it is a new occurrence all the same, counted once, even if redelivered.
        store.add_events([new_event("late", 1, T0)])
        store.add_events([new_event("late", 1, T0)])
        assert store.get_bug(1).count == 2  # type: ignore[union-attr]


class RegressionContract:
    def _fixed_bug(self, store: Store, status: str = "FIXED") -> None:
        seed_bug(store, 1)
        store.add_events([new_event("e0", 1, T0)])
        store.update_bug(1, {"status": status})

    @pytest.mark.parametrize("status", ["FIXED", "VERIFIED", "DEPLOYED"])
    def test_new_occurrence_reopens(self, store: Store, status: str) -> None:
        self._fixed_bug(store, status)
        result = store.add_events([new_event("e1", 1, minutes(5))], reopen_bug_ids={1})
        assert [(o.bug_id, o.count, o.reopen) for o in result] == [(1, 1, True)]
        bug = store.get_bug(1)
        assert bug is not None
        assert (bug.status, bug.regression_count, bug.count) == ("NEW", 1, 2)
        last = bug.status_history[-1]
        assert (last.from_, last.to, last.by) == (status, "NEW", "ingest")
        assert last.reason is not None and "regression" in last.reason
        assert bug_ids(store, "regression_count:1") == [1]

    def test_redelivery_does_not_reopen_again(self, store: Store) -> None:
        self._fixed_bug(store)
        batch = [new_event("e1", 1, minutes(5))]
        store.add_events(batch, reopen_bug_ids={1})
        store.update_bug(1, {"status": "FIXED"})
        assert store.add_events(batch, reopen_bug_ids={1}) == []
        bug = store.get_bug(1)
        assert bug is not None
        assert (bug.status, bug.regression_count, bug.count) == ("FIXED", 1, 2)

    def test_open_bug_is_not_reopened(self, store: Store) -> None:
        seed_bug(store, 1)
        result = store.add_events([new_event("e1", 1, T0)], reopen_bug_ids={1})
        assert [o.reopen for o in result] == [False]
        bug = store.get_bug(1)
        assert bug is not None
        assert (bug.status, bug.regression_count, bug.status_history) == ("NEW", 0, [])

    def test_without_flag_status_stays(self, store: Store) -> None:
        self._fixed_bug(store)
        store.add_events([new_event("e1", 1, minutes(5))])
        assert store.get_bug(1).status == "FIXED"  # type: ignore[union-attr]

    def test_apply_occurrences(self, store: Store) -> None:
        self._fixed_bug(store, "DEPLOYED")
        store.apply_occurrences(
            [
                BugOccurrences(
                    bug_id=1, count=3, first_seen=minutes(-1), last_seen=minutes(8), reopen=True
                )
            ]
        )
        bug = store.get_bug(1)
        assert bug is not None
        assert (bug.status, bug.regression_count, bug.count) == ("NEW", 1, 4)
        assert (bug.first_seen, bug.last_seen) == (minutes(-1), minutes(8))


class ReleaseRegressionContract:
    """Release-aware regressions: the newest version seen on a bug, and an occurrence from a
    release older than its fixed version leaving it fixed."""

    def _fixed_in(
        self, store: Store, bug_id: int, version: str | None, status: str = "FIXED"
    ) -> None:
        seed_bug(store, bug_id)
        store.add_events([new_event(f"first-{bug_id}", bug_id, T0, version="1.0.0")])
        change = StatusChange.model_validate(
            {"from": "FIXING", "to": status, "at": minutes(1), "fixed_version": version}
        )
        store.update_bug(bug_id, {"status": status, "fixed_version": version}, history=change)

    def test_newest_version_is_the_latest_release_seen(self, store: Store) -> None:
        seed_bug(store, 1)
        seed_bug(store, 2)
        assert store.get_bug(1).newest_version is None  # type: ignore[union-attr]
        store.add_events(
            [
                new_event("a", 1, minutes(1), version="1.9.0"),
                new_event("b", 1, minutes(2), version="1.10.0"),
                new_event("c", 1, minutes(3), version="1.2.0"),
                new_event("d", 2, minutes(1), version="2.0.0-rc.1"),
            ]
        )
        assert store.get_bug(1).newest_version == "1.10.0"  # type: ignore[union-attr]
        assert store.get_bug(2).newest_version == "2.0.0-rc.1"  # type: ignore[union-attr]
        # Later batches: an older release, no version, one that parses in no scheme.
        store.add_events([new_event("e", 1, minutes(4), version="1.9.9")])
        store.add_events([new_event("f", 1, minutes(5))])
        store.add_events([new_event("g", 1, minutes(6), version="nightly")])
        store.add_events([new_event("h", 2, minutes(6), version="2.0.0")])
        assert store.get_bug(1).newest_version == "1.10.0"  # type: ignore[union-attr]
        assert store.get_bug(2).newest_version == "2.0.0"  # type: ignore[union-attr]
        assert store.get_bug(1).count == 6  # type: ignore[union-attr]

        # Occurrences counted elsewhere (apply_occurrences) weigh their versions too.
        self._fixed_in(store, 3, "1.3.0", "VERIFIED")
        older = {"count": 2, "first_seen": minutes(2), "last_seen": minutes(3), "reopen": True}
        store.apply_occurrences([BugOccurrences(bug_id=3, versions=["1.1.0", "1.2.9"], **older)])
        bug = store.get_bug(3)
        assert bug is not None
        assert (bug.status, bug.count, bug.newest_version) == ("VERIFIED", 3, "1.2.9")
        store.apply_occurrences([BugOccurrences(bug_id=3, versions=["1.4.0"], **older)])
        bug = store.get_bug(3)
        assert bug is not None
        assert (bug.status, bug.count, bug.newest_version) == ("NEW", 5, "1.4.0")

    def test_only_an_older_release_leaves_a_fixed_bug_fixed(self, store: Store) -> None:
        # Bug id -> its fixed status and version, the versions of its new occurrences (one
        # batch for all), and whether they reopen it.
        cases: dict[int, tuple[str, str | None, tuple[str | None, ...], bool]] = {
            1: ("FIXED", "1.3.0", ("1.2.0", "1.3.0-rc.1"), False),
            2: ("DEPLOYED", "1.3.0", ("1.2.0",), False),
            3: ("FIXED", "1.3.0", ("1.3.0",), True),  # the fixed release itself
            4: ("FIXED", "1.3.0", ("1.3.1",), True),
            5: ("FIXED", "1.3.0", ("nightly",), True),  # compares with nothing
            6: ("FIXED", "1.3.0", (None,), True),
            7: ("VERIFIED", "1.3.0", ("1.2.0", None), True),  # one of them is enough
            8: ("FIXED", None, ("0.1.0",), True),  # fixed in no known version
        }
        for bug_id, (status, fixed, _, _) in cases.items():
            self._fixed_in(store, bug_id, fixed, status)
        bug = store.get_bug(1)
        assert bug is not None
        assert (bug.fixed_version, bug.newest_version) == ("1.3.0", "1.0.0")
        assert bug.status_history[-1].fixed_version == "1.3.0"
        batch = [
            new_event(f"again-{bug_id}-{n}", bug_id, minutes(5 + n), version=version)
            for bug_id, (_, _, versions, _) in cases.items()
            for n, version in enumerate(versions)
        ]
        result = store.add_events(batch, reopen_bug_ids=set(cases))
        assert [(o.bug_id, o.reopen) for o in result] == [
            (bug_id, reopens) for bug_id, (_, _, _, reopens) in cases.items()
        ]
        for bug_id, (status, fixed, versions, reopens) in cases.items():
            bug = store.get_bug(bug_id)
            assert bug is not None
            assert bug.count == 1 + len(versions)
            if reopens:
                assert (bug.status, bug.regression_count, bug.fixed_version) == ("NEW", 1, None)
                assert bug.status_history[-1].by == "ingest"
            else:
                assert (bug.status, bug.regression_count, bug.fixed_version) == (status, 0, fixed)
        assert store.get_bug(1).newest_version == "1.3.0-rc.1"  # type: ignore[union-attr]


class BugIdReservationContract:
    def test_reservations_survive_reopen(self, store: Store, store_opener: Opener) -> None:
        assert store.max_bug_id() == 0
        first = store.reserve_bug_ids(10)
        assert first >= 10 and store.max_bug_id() == first
        store.close()
        reopened = store_opener()
        reopened.init()
        try:
            assert reopened.reserve_bug_ids(5) == first + 5
            assert reopened.max_bug_id() == first + 5
        finally:
            reopened.close()

    def test_stored_bugs_count_as_issued(self, store: Store) -> None:
        seed_bug(store, 1000)
        assert store.max_bug_id() == 1000
        assert store.reserve_bug_ids(1) == 1001


class ProjectContract:
    def test_ensure_creates_once(self, store: Store) -> None:
        shop = store.ensure_project("shop")
        again = store.ensure_project("shop")
        blog = store.ensure_project("blog")
        assert shop.id == again.id and isinstance(shop.id, int) and blog.id != shop.id
        assert sorted(p.project_id for p in store.list_projects()) == ["blog", "shop"]
        assert store.get_project("nope") is None

    def test_each_project_gets_a_public_key_and_is_found_by_its_number(
        self, store: Store
    ) -> None:
        shop = store.ensure_project("shop")
        blog = store.update_project("blog", {"name": "Blog"})
        keys = [shop.public_key, blog.public_key]
        assert all(re.fullmatch("[0-9a-f]{32}", str(k)) for k in keys) and keys[0] != keys[1]
        edited = store.update_project("shop", {"description": "d"})
        assert edited.public_key == shop.public_key
        assert store.get_project_by_number(shop.id) == edited
        assert store.get_project_by_number(blog.id) == store.get_project("blog")
        assert store.get_project_by_number(blog.id + shop.id + 100) is None

    def test_retention_days_is_kept_until_reset(self, store: Store) -> None:
        assert store.ensure_project("shop").retention_days is None
        assert store.update_project("shop", {"retention_days": 7}).retention_days == 7
        assert store.get_project("shop").retention_days == 7  # type: ignore[union-attr]
        store.ensure_project("shop", repo_url="https://git/a")
        assert store.list_projects()[0].retention_days == 7
        assert store.update_project("shop", {"retention_days": None}).retention_days is None
        assert store.get_project("shop").retention_days is None  # type: ignore[union-attr]

    def test_repo_url_fills_but_never_overwrites(self, store: Store) -> None:
        assert store.ensure_project("shop").repo_url is None
        assert store.ensure_project("shop", repo_url="https://git/a").repo_url == "https://git/a"
        assert store.ensure_project("shop", repo_url="https://git/b").repo_url == "https://git/a"
        store.update_project("shop", {"repo_url": "https://git/person"})
        store.ensure_project("shop", repo_url="https://git/c")
        assert store.get_project("shop").repo_url == "https://git/person"  # type: ignore[union-attr]

    def test_an_ignored_repo_url_is_explained_until_one_is_set(self, store: Store) -> None:
        warned = store.ensure_project("shop", repo_url_warning="bad scheme")
        assert (warned.repo_url, warned.repo_url_warning) == (None, "bad scheme")
        assert store.ensure_project("shop").repo_url_warning == "bad scheme"
        assert store.ensure_project("shop", repo_url_warning="a dash").repo_url_warning == "a dash"
        filled = store.ensure_project("shop", repo_url="https://git/a")
        assert (filled.repo_url, filled.repo_url_warning) == ("https://git/a", None)
        store.ensure_project("blog", repo_url_warning="bad scheme")
        edited = store.update_project("blog", {"repo_url": "https://git/blog"})
        assert edited.repo_url_warning is None and store.get_project("blog") == edited
        with pytest.raises(ValueError, match="cannot change repo_url_warning"):
            store.update_project("blog", {"repo_url_warning": "set by hand"})

    def test_only_editable_fields_change(self, store: Store) -> None:
        store.ensure_project("shop")
        for changes in ({"id": 7}, {"project_id": "blog"}, {"created_at": "2020-01-01"}):
            with pytest.raises(ValueError, match="update_project: cannot change"):
                store.update_project("shop", changes)
        assert [p.project_id for p in store.list_projects()] == ["shop"]

    def test_update_edits_and_creates(self, store: Store) -> None:
        created = store.update_project("new", {"name": "New", "auto_repair": True})
        assert (created.project_id, created.name, created.auto_repair) == ("new", "New", True)
        edited = store.update_project("new", {"local_path": "/src/new", "description": "d"})
        assert (edited.id, edited.name, edited.local_path) == (created.id, "New", "/src/new")
        assert store.get_project("new") == edited
        assert created.grouping is None
        assert store.update_project("new", {"grouping": "stack"}).grouping == "stack"
        assert store.get_project("new").grouping == "stack"  # type: ignore[union-attr]

    def test_auto_repair_is_unset_until_someone_chooses(self, store: Store) -> None:
        assert store.ensure_project("shop").auto_repair is None
        for value in (True, False, None):
            assert store.update_project("shop", {"auto_repair": value}).auto_repair is value
            assert store.get_project("shop").auto_repair is value  # type: ignore[union-attr]

    def test_toolchain_is_reported_apart_from_the_settings(self, store: Store) -> None:
        project = store.update_project("shop", {"test_command": "make test"})
        assert project.toolchain is None
        found = ToolchainInfo(
            name="pytest",
            language="python",
            test_command="python -m pytest",
            missing=["node", "npm"],
            detected_at=T0,
        )
        saved = store.set_project_toolchain("shop", found)
        assert saved.toolchain == found and store.get_project("shop") == saved
        assert (saved.test_command, saved.updated_at) == ("make test", project.updated_at)
        assert [p.toolchain for p in store.list_projects()] == [found]
        # Edits keep it; the next report replaces it whole.
        store.update_project("shop", {"name": "Shop"})
        store.ensure_project("shop", repo_url="https://git/shop")
        assert store.get_project("shop").toolchain == found  # type: ignore[union-attr]
        nothing = ToolchainInfo(problem="no toolchain recognised", detected_at=minutes(5))
        assert store.set_project_toolchain("shop", nothing).toolchain == nothing
        assert store.get_project("shop").toolchain == nothing  # type: ignore[union-attr]

    def test_toolchain_of_an_unknown_project(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.set_project_toolchain("nope", ToolchainInfo(detected_at=T0))
        assert store.get_project("nope") is None


class RepairReportContract:
    def test_reports_per_bug_in_round_order(self, store: Store) -> None:
        seed_bug(store, 1, project_id="shop")
        seed_bug(store, 2, project_id="blog")
        for rnd in (1, 2, 3):
            store.add_repair_report(
                RepairReportIn(
                    bug_id=1, round=rnd, passed=rnd == 3, changed_files=["a.py"], cost=0.5
                )
            )
        report = store.add_repair_report(RepairReportIn(bug_id=2, failure_reason="no tests"))
        assert (report.project_id, report.failure_reason, report.round) == ("blog", "no tests", 1)
        total, reports = store.list_repair_reports(bug_id=1)
        assert total == 3 and [r.round for r in reports] == [1, 2, 3]
        assert reports[0].changed_files == ["a.py"] and reports[0].project_id == "shop"

    def test_filters_and_paging(self, store: Store) -> None:
        seed_bug(store, 1, project_id="shop")
        seed_bug(store, 2, project_id="blog")
        reports = [
            RepairReportIn(bug_id=1 + i % 2, round=i, passed=i % 3 == 0) for i in range(1, 7)
        ]
        ids = [store.add_repair_report(report).id for report in reports]
        total, page = store.list_repair_reports(size=4)
        assert total == 6 and [r.id for r in page] == ids[::-1][:4]
        assert [r.id for r in store.list_repair_reports(size=4, page=2)[1]] == ids[::-1][4:]
        assert store.list_repair_reports(project_id="blog")[0] == 3
        assert {r.round for r in store.list_repair_reports(passed=True)[1]} == {3, 6}

    def test_unknown_bug(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.add_repair_report(RepairReportIn(bug_id=404))


# -- search ---------------------------------------------------------------------------------

_SEARCH_BUGS: list[dict[str, Any]] = [
    dict(
        project_id="shop",
        error_type="ValueError",
        message="数据库连接超时",
        file_path="app/db/conn.py",
        line_number=42,
        environment="prod",
        stack_trace=["Traceback", 'File "app/db/conn.py", line 42, in connect'],
    ),
    dict(
        project_id="shop",
        error_type="TypeError",
        message="支付接口返回错误",
        level="WARNING",
        file_path="app/pay/api.py",
        line_number=10,
        environment="staging",
    ),
    dict(
        project_id="blog",
        error_type="ValueError",
        environment="prod",
        line_number=100,
        message="invalid literal for int() with base 10",
        file_path="blog/views.py",
    ),
    dict(
        project_id="blog",
        source="cicd",
        error_type="BuildError",
        environment="ci",
        message="connection refused while fetching dependencies",
    ),
    dict(
        project_id="api",
        source="deployment",
        error_type="CrashLoopBackOff",
        level="CRITICAL",
        message="container rtc_backend exited",
        environment="prod",
    ),
    dict(
        project_id="api",
        error_type="KeyError",
        message="missing key user_id in session",
        file_path="api/auth/session.py",
        line_number=7,
        environment="staging",
        stack_trace=["Traceback", "KeyError: 'user_id'"],
    ),
]
#: Occurrences per bug id; bug i was first seen on March i, 10:00.
_COUNTS = {1: 5, 2: 1, 3: 3, 4: 3, 5: 8, 6: 2}


_QUERIES = [
    ("project_id:shop", [1, 2]),
    ("error_type:ValueError", [1, 3]),
    ("error.type:KeyError", [6]),
    ("error_type:Value*", [1, 3]),
    ("error_type:value*", []),
    ("file_path:app/*", [1, 2]),
    ('message:"connection refused"', [4]),
    ('message:"refused connection"', []),
    ("connection", [4]),
    ("conn*", [1, 4]),
    ("message:conn*", [4]),
    ("连接", [1]),
    ("接", [1, 2]),
    ('message:"连接超时"', [1]),
    ("rtc_backend", [5]),
    ("rtc", []),
    ("user_id", [6]),
    ("views", [3]),
    ("crashloopbackoff", [5]),
    ('stack:"line 42"', [1]),
    ("failure_reason:timed", [6]),
    ("status:fixed", [2]),
    ("level:warning", [2]),
    ("id:3", [3]),
    ("ValueError AND project_id:blog", [3]),
    ("ValueError project_id:blog", [3]),
    ("project_id:shop OR project_id:api", [1, 2, 5, 6]),
    ("NOT project_id:blog", [1, 2, 5, 6]),
    ("-project_id:blog", [1, 2, 5, 6]),
    ("project_id:blog AND NOT source:cicd", [3]),
    ("(project_id:shop OR project_id:blog) AND environment:prod", [1, 3]),
    ("project_id:(shop OR api) AND NOT (status:FIXED OR status:FIX_FAILED)", [1, 5]),
    ("line_number:[10 TO 42]", [1, 2]),
    ("line_number:{10 TO 42]", [1]),
    ("line_number:[50 TO *]", [3]),
    ("count:[3 TO 5]", [1, 3, 4]),
    ("count:{3 TO *}", [1, 5]),
    ('first_seen:["2024-03-02T00:00:00Z" TO "2024-03-04T00:00:00Z"}', [2, 3]),
    ("first_seen:2024-03-03", [3]),
    ("last_seen:[2024-03-05T10:05:00Z TO *]", [5, 6]),
    ("last_seen:[2024-03-05T10:05:00Z TO 2024-03-06T00:00:00Z]", [5]),
    ("file_path:*", [1, 2, 3, 6]),
    ("NOT file_path:*", [4, 5]),
    ("NOT file_path:app/*", [3, 4, 5, 6]),
    ("NOT line_number:[1 TO 50]", [3, 4, 5]),
    ("*", [1, 2, 3, 4, 5, 6]),
]


class SavedSearchContract:
    def test_saved_searches_keep_everything_they_hold(self, store: Store) -> None:
        pills = [
            FilterPill(field="level", value="ERROR"),
            FilterPill(field="environment", value="staging", negated=True),
            FilterPill(field="context.url", value="/pay", disabled=True),
        ]
        payments = SavedSearchIn(
            name="payments", q='error.message:"connection refused"', filters=pills,
            columns=["timestamp", "context.url", "message"], range="7d", sort="timestamp",
        )  # fmt: skip
        created = store.save_search(payments)
        assert created.id > 0 and created.created_at == created.updated_at
        assert store.get_search(created.id) == created
        absolute = SavedSearchIn(name="deploy night", range="", start=T0, end=minutes(60))
        night = store.save_search(absolute)
        assert night.id != created.id
        assert [s.name for s in store.list_searches()] == ["deploy night", "payments"]
        assert store.get_search(night.id).start == T0  # type: ignore[union-attr]

    def test_replace_keeps_the_id_and_creation_names_stay_unique(self, store: Store) -> None:
        first = store.save_search(SavedSearchIn(name="a", q="x"))
        second = store.save_search(SavedSearchIn(name="b"))
        with pytest.raises(Conflict, match="already named 'a'"):
            store.save_search(SavedSearchIn(name="a"))
        with pytest.raises(Conflict, match="already named 'b'"):
            store.save_search(SavedSearchIn(name="b", q="renamed onto b"), first.id)
        replaced = store.save_search(SavedSearchIn(name="a2", q="y", columns=["level"]), first.id)
        assert (replaced.id, replaced.created_at) == (first.id, first.created_at)
        assert store.get_search(first.id) == replaced and replaced.q == "y"
        assert store.get_search(second.id) == second
        with pytest.raises(NotFound):
            store.save_search(SavedSearchIn(name="c"), 999_999)
        assert store.delete_search(second.id) is True
        assert store.delete_search(second.id) is False
        assert store.get_search(second.id) is None
        assert [s.name for s in store.list_searches()] == ["a2"]


class BugSearchContract:
    @pytest.fixture
    def search_store(self, store: Store) -> Store:
        """Six bugs (ids 1..6) with counts, statuses and texts the search tests rely on."""
        bugs = [
            new_bug(i, first_seen=T0 + timedelta(days=i - 1), **fields)
            for i, fields in enumerate(_SEARCH_BUGS, start=1)
        ]
        store.create_bugs(bugs)
        store.add_events(
            [
                new_event(f"b{b}-{n}", b, T0 + timedelta(days=b - 1, minutes=n))
                for b, count in _COUNTS.items()
                for n in range(count)
            ]
        )
        store.update_bug(2, {"status": "FIXED"})
        store.update_bug(6, {"status": "FIX_FAILED", "failure_reason": "tests timed out"})
        return store

    @pytest.mark.parametrize(("q", "expected"), _QUERIES, ids=[q for q, _ in _QUERIES])
    def test_query(self, search_store: Store, q: str, expected: list[int]) -> None:
        assert bug_ids(search_store, q) == expected

    def test_filters_or_within_and_across_fields(self, search_store: Store) -> None:
        assert bug_ids(search_store, filters={"project_id": ["shop", "blog"]}) == [1, 2, 3, 4]
        assert bug_ids(
            search_store, filters={"project_id": ["shop", "blog"], "environment": ["prod"]}
        ) == [1, 3]
        assert bug_ids(search_store, "ValueError", filters={"status": ["NEW"]}) == [1, 3]
        assert bug_ids(search_store, filters={"project_id": []}) == [1, 2, 3, 4, 5, 6]

    def test_facets_are_multi_select(self, search_store: Store) -> None:
        page = search_store.search_bugs(
            BugQuery(filters={"project_id": ["shop", "blog"], "environment": ["prod"]})
        )
        facets = {
            name: [(f.value, f.count) for f in values] for name, values in page.facets.items()
        }
        assert page.total == 2
        assert facets["project_id"] == [("api", 1), ("blog", 1), ("shop", 1)]
        assert facets["environment"] == [("prod", 2), ("ci", 1), ("staging", 1)]
        assert facets["error_type"] == [("ValueError", 2)]
        assert facets["status"] == [("NEW", 2)]

    def test_facet_counts_equal_matches(self, search_store: Store) -> None:
        page = search_store.search_bugs(BugQuery(q="NOT project_id:api"))
        assert page.total == 4
        for name in ("project_id", "source", "status", "level", "environment", "error_type"):
            assert sum(f.count for f in page.facets[name]) == page.total, name
        assert [(f.value, f.count) for f in page.facets["status"]] == [("NEW", 3), ("FIXED", 1)]

    def test_facet_size_and_choice(self, search_store: Store) -> None:
        page = search_store.search_bugs(BugQuery(facets=("environment",), facet_size=1))
        assert list(page.facets) == ["environment"]
        assert [(f.value, f.count) for f in page.facets["environment"]] == [("prod", 3)]

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("count", [2, 6, 3, 4, 1, 5]),
            ("-count", [5, 1, 4, 3, 6, 2]),
            ("first_seen", [1, 2, 3, 4, 5, 6]),
            ("-last_seen", [6, 5, 4, 3, 2, 1]),
            ("-id", [6, 5, 4, 3, 2, 1]),
        ],
    )
    def test_sort(self, search_store: Store, sort: str, expected: list[int]) -> None:
        page = search_store.search_bugs(BugQuery(sort=sort))
        assert [b.id for b in page.items] == expected


class BugPagingContract:
    N = 300

    @pytest.fixture
    def many(self, store: Store) -> Store:
        # Seven distinct times only, so most sort values tie and the id must break them.
        store.create_bugs([new_bug(i, first_seen=minutes(i % 7)) for i in range(1, self.N + 1)])
        return store

    def _walk(self, store: Store, sort: str, size: int) -> Iterator[int]:
        cursor: str | None = None
        while True:
            page = store.search_bugs(BugQuery(sort=sort, size=size, cursor=cursor, facets=()))
            assert page.total == self.N
            yield from (b.id for b in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return

    @pytest.mark.parametrize("sort", ["-last_seen", "first_seen", "-count", "id"])
    def test_cursor_walk_has_no_gaps_or_duplicates(self, many: Store, sort: str) -> None:
        walked = list(self._walk(many, sort, 37))
        key = {
            "-last_seen": lambda i: (-(i % 7), -i),
            "first_seen": lambda i: (i % 7, i),
            "-count": lambda i: -i,
            "id": lambda i: i,
        }[sort]
        assert walked == sorted(range(1, self.N + 1), key=key)

    def test_pages_without_counting(self, many: Store) -> None:
        counted = many.search_bugs(BugQuery(sort="-count", size=9))
        bare = many.search_bugs(BugQuery(sort="-count", size=9, count=False))
        assert (bare.total, bare.facets, counted.total) == (-1, {}, self.N)
        assert [b.id for b in bare.items] == [b.id for b in counted.items]
        assert bare.next_cursor == counted.next_cursor is not None

    def test_pages_match_cursor_walk(self, many: Store) -> None:
        walked = list(self._walk(many, "-last_seen", 50))
        paged: list[int] = []
        for number in range(1, 8):
            page = many.search_bugs(BugQuery(sort="-last_seen", size=50, page=number))
            paged += [b.id for b in page.items]
            assert (page.next_cursor is None) == (number >= 6)
        assert paged == walked


class EventSearchContract:
    @pytest.fixture
    def events(self, store: Store) -> Store:
        """30 events every 20 minutes from T0: projects alternate, every third is a timeout."""
        store.add_events(
            [
                new_event(
                    f"e{i:02}",
                    1 + i % 3,
                    minutes(20 * i),
                    project_id=("shop", "blog")[i % 2],
                    environment=("prod", "dev")[i % 5 == 0],
                    message="数据库连接超时" if i % 3 == 0 else "read timeout",
                )
                for i in range(30)
            ]
        )
        return store

    def test_time_range_and_histogram(self, events: Store) -> None:
        page = events.search_events(
            EventQuery(start=minutes(60), end=minutes(300), interval_seconds=3600)
        )
        assert page.total == 12
        assert [(b.key, b.count) for b in page.histogram] == [
            (T0 + timedelta(hours=h), 3) for h in range(1, 5)
        ]
        assert sum(b.count for b in page.histogram) == page.total

    def test_histogram_alignment_and_sum(self, events: Store) -> None:
        page = events.search_events(EventQuery(q="project_id:shop", interval_seconds=7 * 60))
        assert page.total == 15 and sum(b.count for b in page.histogram) == 15
        assert all(int(b.key.timestamp()) % 420 == 0 for b in page.histogram)
        assert [b.key for b in page.histogram] == sorted(b.key for b in page.histogram)

    def test_histogram_of_a_long_lived_bug_is_capped(self, store: Store) -> None:
        """A bug seen every 50 minutes for ten days (more minutes with events than
        MAX_BUCKETS), counted by the minute: at most MAX_BUCKETS buckets of a whole multiple
        of a minute, all its events counted, with or without a window."""
        n = MAX_BUCKETS + 100
        at = [T0 + timedelta(minutes=50 * i) for i in range(n)]
        store.add_events([new_event(f"l{i:03}", 7, t) for i, t in enumerate(at)])
        for start, end in [(T0, at[-1] + timedelta(seconds=1)), (None, None)]:
            query = EventQuery(q="bug_id:7", start=start, end=end, interval_seconds=60)
            page = store.search_events(query)
            width = page.interval_seconds or 0
            assert page.total == n == sum(b.count for b in page.histogram)
            assert width > 60 and width % 60 == 0, width
            assert 0 < len(page.histogram) <= MAX_BUCKETS
            assert all(int(b.key.timestamp()) % width == 0 for b in page.histogram)
        short = store.search_events(EventQuery(q="bug_id:7", end=at[2], interval_seconds=60))
        assert short.interval_seconds == 60  # a window it fits in keeps the interval asked

    def test_query_filters_and_facets(self, events: Store) -> None:
        page = events.search_events(
            EventQuery(
                q="连接", filters={"project_id": ["shop"]}, facets=("project_id", "environment")
            )
        )
        assert page.total == 5  # i in 0, 6, 12, 18, 24
        assert [(f.value, f.count) for f in page.facets["project_id"]] == [("blog", 5), ("shop", 5)]
        assert [(f.value, f.count) for f in page.facets["environment"]] == [("prod", 4), ("dev", 1)]
        assert events.search_events(EventQuery(q='message:"read timeout" AND bug_id:2')).total == 10

    def test_sort_and_cursor(self, events: Store) -> None:
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = events.search_events(EventQuery(sort="timestamp", size=7, cursor=cursor))
            seen += [e.id for e in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [f"e{i:02}" for i in range(30)]
        newest = events.search_events(EventQuery(size=3))
        assert [e.id for e in newest.items] == ["e29", "e28", "e27"]

    def test_pages_without_counting(self, events: Store) -> None:
        """count=False: the same pages and cursors, nothing counted (what exports walk)."""
        query = EventQuery(q="project_id:shop", size=4, interval_seconds=3600, facets=("level",))
        counted = events.search_events(query)
        bare = events.search_events(query.model_copy(update={"count": False}))
        assert (bare.total, bare.histogram, bare.facets) == (-1, [], {})
        assert [e.id for e in bare.items] == [e.id for e in counted.items]
        assert bare.next_cursor == counted.next_cursor is not None


_BAD_QUERIES = [
    'message:"unclosed',
    "nosuchfield:x",
    "line_number:[a TO",
    "line_number:abc",
    "first_seen:yesterday",
]


class QueryErrorContract:
    @pytest.mark.parametrize("q", _BAD_QUERIES)
    def test_bad_bug_query(self, store: Store, q: str) -> None:
        with pytest.raises(QueryError) as info:
            store.search_bugs(BugQuery(q=q))
        assert str(info.value).startswith("q:")

    @pytest.mark.parametrize("q", _BAD_QUERIES[:3])
    def test_bad_event_query(self, store: Store, q: str) -> None:
        with pytest.raises(QueryError):
            store.search_events(EventQuery(q=q))

    def test_bad_cursor_sort_filter_facet(self, store: Store) -> None:
        for query in (
            BugQuery(cursor="not-a-cursor!"),
            BugQuery(sort="-message"),
            BugQuery(filters={"nosuchfield": ["x"]}),
            BugQuery(facets=("message",)),
        ):
            with pytest.raises(QueryError):
                store.search_bugs(query)
        with pytest.raises(QueryError):
            store.search_events(EventQuery(cursor="bad"))
