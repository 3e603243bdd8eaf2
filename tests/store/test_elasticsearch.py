"""The store contract bound to the Elasticsearch backend (a real node, an index prefix per test)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest

from store.base import Store
from store.elasticsearch import ElasticsearchStore
from tests.store import alert_contract, contract, merge_contract, transfer_contract

pytestmark = pytest.mark.es


@pytest.fixture
def store_opener(es_url: str, es_prefix: str) -> Callable[[], Store]:
    return functools.partial(ElasticsearchStore, es_url, index_prefix=es_prefix)


@pytest.fixture
def store(store_opener: Callable[[], ElasticsearchStore]) -> Iterator[ElasticsearchStore]:
    backend = store_opener()
    backend.init()
    yield backend
    backend.close()
    cleaner = store_opener()  # the test may have closed its store
    cleaner.drop()
    cleaner.close()


class TestAlerts(alert_contract.AlertContract):
    pass


class TestTransfer(transfer_contract.TransferContract):
    pass


class TestMerge(merge_contract.MergeContract):
    pass

class TestBugCreation(contract.BugCreationContract):
    pass

class TestBugUpdate(contract.BugUpdateContract):
    pass

class TestEvents(contract.EventContract):
    pass

class TestRegression(contract.RegressionContract):
    pass

class TestReleaseRegression(contract.ReleaseRegressionContract):
    pass

class TestBugIdReservation(contract.BugIdReservationContract):
    pass

class TestProjects(contract.ProjectContract):
    pass

class TestRepairReports(contract.RepairReportContract):
    pass

class TestSavedSearches(contract.SavedSearchContract):
    pass

class TestBugSearch(contract.BugSearchContract):
    pass

class TestBugPaging(contract.BugPagingContract):
    pass

class TestEventSearch(contract.EventSearchContract):
    pass

class TestQueryErrors(contract.QueryErrorContract):
    pass
