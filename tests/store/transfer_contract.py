"""The copy seam's contract (Store.export_records / import_records), written once for every
backend: records written as they are, twice without effect, read back in resumable pages.

Bound like tests/store/contract.py, with the same `store` fixture.
"""

from __future__ import annotations

import pytest

from store.base import Store
from store.errors import Conflict
from store.models import Bug, StatusChange
from store.record import Record, to_record
from store.search import BugQuery, EventQuery
from tests.store.contract import T0, minutes, new_bug, new_event, seed_bug


def bug_record(bug_id: int, count: int, **fields: object) -> Record:
    """A bug as another store would hand it over: FIXED after a fix, with its history."""
    change = StatusChange.model_validate(
        {"from": "FIXING", "to": "FIXED", "at": minutes(30), "by": "agent", "fixed_version": "1.3"}
    )
    bug = Bug(
        **{**new_bug(bug_id).model_dump(), **fields}, status="FIXED", count=count,
        last_seen=minutes(20), regression_count=1, status_history=[change], created_at=T0,
        updated_at=minutes(30), revision=9, newest_version="1.2.0", fixed_version="1.3",
    )  # fmt: skip
    return to_record(bug)


def everything(store: Store, kind: str, limit: int = 2) -> list[Record]:
    """Every record of `kind`, read in pages of `limit` from each returned position."""
    found: list[Record] = []
    after: str | None = None
    while True:
        records, after = store.export_records(kind, after, limit)
        assert len(records) <= limit
        found.extend(records)
        if after is None:
            return found


class TransferContract:
    def test_records_are_written_as_they_are_and_twice_changes_nothing(
        self, store: Store
    ) -> None:
        bugs = [bug_record(1, count=40), bug_record(2, count=3)]
        events = [to_record(new_event(f"e{n}", 1, minutes(n))) for n in range(3)]
        for _ in range(2):
            assert store.import_records("bugs", bugs) == 2
            assert store.import_records("events", events) == 3
        bug = store.get_bug(1)
        assert bug is not None
        assert to_record(bug) == bugs[0]  # the count is the record's, not 3
        assert store.get_events(1).total == 3
        assert store.search_events(EventQuery(q="bug", start=T0)).total == 3
        page = store.search_bugs(BugQuery(q="status:FIXED", sort="id"))
        assert [b.id for b in page.items] == [1, 2]
        assert everything(store, "bugs") == bugs
        assert sorted(r["id"] for r in everything(store, "events")) == ["e0", "e1", "e2"]

    def test_pages_resume_from_their_position(self, store: Store) -> None:
        store.import_records("bugs", [bug_record(n, count=n) for n in (5, 1, 4, 2, 3)])
        first, after = store.export_records("bugs", None, 2)
        rest, end = store.export_records("bugs", after, 10)
        assert [r["id"] for r in first] == [1, 2]
        assert [r["id"] for r in rest] == [3, 4, 5] and end is None

    def test_a_copied_bug_counts_only_new_occurrences(self, store: Store) -> None:
        store.import_records("bugs", [bug_record(1, count=40)])
        copied = new_event("copied", 1, minutes(10))
        store.import_records("events", [to_record(copied)])
        store.add_events([copied, new_event("new", 1, minutes(60))])
        bug = store.get_bug(1)
        assert bug is not None and bug.count == 41 and bug.last_seen == minutes(60)

    def test_the_reservation_only_rises(self, store: Store) -> None:
        store.import_records("bug_id_reservation", [{"max_bug_id": 50}])
        store.import_records("bug_id_reservation", [{"max_bug_id": 10}])
        assert store.export_records("bug_id_reservation", None, 10) == (
            [{"max_bug_id": 50}],
            None,
        )
        assert store.reserve_bug_ids(1) == 51

    def test_ids_are_not_issued_again(self, store: Store) -> None:
        store.ensure_project("shop")
        project = to_record(store.ensure_project("other"))
        store.import_records("projects", [{**project, "id": 70, "project_id": "copied"}])
        assert store.ensure_project("next").id > 70
        assert store.get_project("copied") is not None

    def test_a_bug_id_held_by_another_fingerprint_is_refused(self, store: Store) -> None:
        seed_bug(store, 1)
        with pytest.raises(Conflict):
            store.import_records("bugs", [bug_record(1, count=1, fingerprint="fp-other")])

    def test_an_unknown_kind_is_refused(self, store: Store) -> None:
        with pytest.raises(ValueError, match="unknown record kind"):
            store.export_records("merges", None, 10)
        with pytest.raises(ValueError, match="unknown record kind"):
            store.import_records("merges", [])


