"""The store contract for merging bugs (store.base.Store.merge_bugs), bound per backend like
tests/store/contract.py."""

from __future__ import annotations

import pytest

from store.base import Store
from store.errors import Conflict, NotFound
from store.models import RepairReportIn
from store.search import BugQuery
from tests.store.contract import minutes, new_bug, new_event, seed_bug


def _two_bugs(store: Store) -> None:
    """Bug 1: 2 occurrences (minutes 10, 20); bug 2, first seen earlier: 3 (5, 30, 40)."""
    seed_bug(store, 1)
    seed_bug(store, 2, first_seen=minutes(-5))
    store.add_events(
        [
            new_event("a1", 1, minutes(10)),
            new_event("a2", 1, minutes(20)),
            new_event("b1", 2, minutes(5)),
            new_event("b2", 2, minutes(30)),
            new_event("b3", 2, minutes(40)),
        ]
    )


class MergeContract:
    def test_merge_moves_counts_times_events_reports_and_history(self, store: Store) -> None:
        _two_bugs(store)
        store.add_repair_report(RepairReportIn(bug_id=2, round=1, passed=False))
        merged = store.merge_bugs(1, [2], by="admin")
        assert (merged.count, merged.first_seen, merged.last_seen) == (5, minutes(-5), minutes(40))
        assert store.get_bug(1) == merged
        assert store.get_bug(2) is None
        assert store.merged_into(2) == 1
        assert store.merged_into(1) is None
        page = store.get_events(1, size=10)
        assert [e.id for e in page.items] == ["b3", "b2", "a2", "a1", "b1"]
        assert all(e.bug_id == 1 for e in page.items)
        assert store.get_events(2).items == []
        entry = merged.status_history[-1]
        assert entry.by == "admin"
        assert entry.reason is not None and "merged bug 2 (3 occurrences" in entry.reason
        assert [b.id for b in store.search_bugs(BugQuery(size=10)).items] == [1]
        total, reports = store.list_repair_reports(bug_id=1)
        assert total == 1 and reports[0].bug_id == 1
        assert store.max_bug_id() >= 2  # a merged id is never handed out again

    def test_merged_fingerprints_answer_the_target(self, store: Store) -> None:
        _two_bugs(store)
        store.merge_bugs(1, [2])
        assert store.bug_ids_by_fingerprint(["fp-1", "fp-2", "fp-x"]) == {"fp-1": 1, "fp-2": 1}
        # An indexer that never saw the merge creates nothing for the merged fingerprint.
        assert store.create_bugs([new_bug(9, "fp-2")]) == {"fp-2": 1}
        assert store.get_bug(9) is None
        keys = set(store.iter_bug_keys())
        assert keys == {("fp-1", 1, "NEW", None), ("fp-2", 1, "NEW", None)}
        # Occurrences admitted under the merged id before the merge land on the target.
        store.update_bug(1, {"status": "FIXED"})
        added = store.add_events([new_event("late", 2, minutes(50))], reopen_bug_ids={2})
        assert [(o.bug_id, o.count, o.reopen) for o in added] == [(1, 1, True)]
        bug = store.get_bug(1)
        assert bug is not None
        assert (bug.count, bug.last_seen, bug.status) == (6, minutes(50), "NEW")
        got = store.get_event("late")
        assert got is not None and got.bug_id == 1

    def test_merging_again_changes_nothing_and_targets_take_their_aliases_along(
        self, store: Store
    ) -> None:
        _two_bugs(store)
        seed_bug(store, 3)
        store.add_events([new_event("c1", 3, minutes(1))])
        first = store.merge_bugs(2, [1])
        again = store.merge_bugs(2, [1])
        assert (again.count, len(again.status_history)) == (first.count, len(first.status_history))
        assert store.get_events(2).total == 5
        store.merge_bugs(3, [2])
        bug = store.get_bug(3)
        assert bug is not None and bug.count == 6
        assert store.bug_ids_by_fingerprint(["fp-1", "fp-2"]) == {"fp-1": 3, "fp-2": 3}
        assert store.merged_fingerprints(3) == ["fp-1", "fp-2"]
        assert store.merged_fingerprints(2) == []
        assert store.merged_into(1) == 3
        assert store.get_events(3, size=10).total == 6

    def test_refusals(self, store: Store) -> None:
        _two_bugs(store)
        seed_bug(store, 3, project_id="other")
        with pytest.raises(ValueError, match="itself"):
            store.merge_bugs(1, [1])
        with pytest.raises(NotFound, match="77"):
            store.merge_bugs(1, [77])
        with pytest.raises(NotFound, match="76"):
            store.merge_bugs(76, [1])
        with pytest.raises(Conflict, match="project"):
            store.merge_bugs(1, [3])
        bug = store.get_bug(1)
        assert bug is not None and bug.count == 2
