"""The store contract bound to the SQLite backend, plus what only SQLite has (the schema file)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.base import Store
from store.sqlite import SQLiteStore, path_from_url
from store.sqlite.migrations import SCHEMA_VERSION
from tests.store import alert_contract, contract, merge_contract, transfer_contract
from tests.store.contract import Opener


@pytest.fixture
def store_opener(tmp_path: Path) -> Opener:
    return functools.partial(SQLiteStore, f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def store(store_opener: Opener) -> Iterator[Store]:
    opened = store_opener()
    opened.init()
    yield opened
    opened.close()


class TestBugCreation(contract.BugCreationContract): ...
class TestBugUpdate(contract.BugUpdateContract): ...
class TestEvents(contract.EventContract): ...
class TestRegression(contract.RegressionContract): ...
class TestReleaseRegression(contract.ReleaseRegressionContract): ...
class TestBugIdReservation(contract.BugIdReservationContract): ...
class TestProjects(contract.ProjectContract): ...
class TestRepairReports(contract.RepairReportContract): ...
class TestSavedSearches(contract.SavedSearchContract): ...
class TestBugSearch(contract.BugSearchContract): ...
class TestBugPaging(contract.BugPagingContract): ...
class TestEventSearch(contract.EventSearchContract): ...
class TestQueryErrors(contract.QueryErrorContract): ...
class TestAlerts(alert_contract.AlertContract): ...
class TestTransfer(transfer_contract.TransferContract): ...
class TestMerge(merge_contract.MergeContract): ...


def _init(url: str, barrier: Any) -> int:
    store = SQLiteStore(url)
    barrier.wait(timeout=60)
    store.init()
    try:
        return store.max_bug_id()
    finally:
        store.close()


class TestSchema:
    def test_processes_migrating_a_new_file_at_once(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        assert contract.run_processes(_init, [(url,)] * 3) == [0, 0, 0]
        with sqlite3.connect(tmp_path / "fresh.db") as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_init_is_idempotent(self, store: Store, store_opener: Opener) -> None:
        contract.seed_bug(store, 1)
        again = store_opener()
        again.init()
        assert again.get_bug(1) is not None
        again.close()

    def test_url_forms(self) -> None:
        assert path_from_url("sqlite:///data/x.db") == Path("/data/x.db")
        assert path_from_url("sqlite:////data/x.db") == Path("/data/x.db")
        with pytest.raises(ValueError):
            path_from_url("postgres://x")

    def test_satisfies_the_protocol(self, tmp_path: Path) -> None:
        store: Store = SQLiteStore(f"sqlite:///{tmp_path / 'p.db'}")
        assert store.ping()
        store.close()
