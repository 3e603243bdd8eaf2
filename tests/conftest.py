"""Session-wide real services and per-test isolation (key prefixes, index prefixes, tmp dirs);
the calc repositories and the scripted LLM server of the repair tests; headless Chromium."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.services import ElasticsearchNode, RedisServer
from tests.agent.llm_server import LLMServer
from tests.repos import Repos, make_repos
from tests.stack import ApiHarness, settings_for
from tests.venvs import cached_venv

ES_VERSION = os.environ.get("LOGCENTER_TEST_ES_VERSION", "9.2.0")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of this test's own, so tests never see each other's keys."""
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture(scope="session")
def es_node() -> Iterator[ElasticsearchNode | None]:
    """The session's Elasticsearch node (None when LOGCENTER_TEST_ES_URL names another)."""
    if os.environ.get("LOGCENTER_TEST_ES_URL"):
        yield None
        return
    # Not under pytest's tmp dir: that is private to root, and the node runs as its own user.
    workdir = Path(tempfile.mkdtemp(prefix="logcenter-es-"))
    node = ElasticsearchNode(workdir, ES_VERSION).start()
    yield node
    node.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def es_url(es_node: ElasticsearchNode | None) -> str:
    return es_node.url if es_node else os.environ["LOGCENTER_TEST_ES_URL"]


@pytest.fixture
def es_prefix() -> str:
    """An index prefix of this test's own."""
    return f"t{uuid.uuid4().hex[:10]}-"


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.es)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each API test runs on both backends: the SQLite file store and a real ES node."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'logcenter.db'}"
    url: str = request.getfixturevalue("es_url")
    return url


@pytest.fixture
def api(
    tmp_path: Path, redis_url: str, redis_prefix: str, store_url: str, es_prefix: str
) -> Iterator[ApiHarness]:
    """The API in-process (real Redis, real store on each backend) with a drainable indexer."""
    settings = settings_for(
        tmp_path, redis_url, redis_prefix, store_url=store_url, es_index_prefix=es_prefix
    )
    with ApiHarness(settings) as harness:
        yield harness
    if store_url.startswith("http"):
        drop_indices(store_url, es_prefix)


@pytest.fixture
def sqlite_api(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[ApiHarness]:
    """The API in-process on SQLite only: for behaviour that does not depend on the store."""
    settings = settings_for(
        tmp_path, redis_url, redis_prefix, store_url=f"sqlite:///{tmp_path / 'logcenter.db'}"
    )
    with ApiHarness(settings) as harness:
        yield harness


def drop_indices(es_url: str, prefix: str) -> None:
    """Delete a test's indices and templates (wildcard deletes are refused by the node)."""
    from store.elasticsearch import ElasticsearchStore

    store = ElasticsearchStore(es_url, index_prefix=prefix)
    store.drop()
    store.close()


@pytest.fixture(scope="session")
def calc_venv() -> Path:
    """The calc developer's virtualenv, with pytest (built once, kept under ~/.cache)."""
    return cached_venv("logcenter-test-user-venvs", "calc-pytest", ["pytest"])


@pytest.fixture
def repos(tmp_path: Path, calc_venv: Path) -> Repos:
    """The calc project: a bare `origin` and the user's checkout with uncommitted work and its
    own virtualenv (so the repairs of the calc bug need not build one)."""
    return make_repos(tmp_path, calc_venv)


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    """A scripted OpenAI-compatible model on 127.0.0.1 (script it with `llm.state.script`)."""
    server = LLMServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from bench.browser import chromium

    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser: object, tmp_path: Path) -> Callable[[str], Path]:
    """Save the page under the test's tmp dir (and, with LOGCENTER_UPDATE_SCREENSHOTS=1, in
    docs/screenshots/<name>.png)."""
    from tests.browser import save_screenshot

    def take(name: str) -> Path:
        return save_screenshot(browser, tmp_path / f"{name}.png")  # type: ignore[arg-type]

    return take
