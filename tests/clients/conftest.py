"""The guide's clients, as shipped in docs/clients/, against a real stack (`logcenter api` and
`logcenter indexer` processes): each client reports the way an application would, and the tests
read the bugs back through the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.services import RedisServer
from bench.stack import RunningStack, guide_payload, running_stack, stack_env
from tests.stack import ROOT

CLIENTS = ROOT / "docs" / "clients"


@pytest.fixture(scope="package")
def stack(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    env = stack_env(redis_server.url, f"t{uuid.uuid4().hex[:10]}:")
    with running_stack(tmp_path_factory.mktemp("clients"), env) as running:
        yield running


def bugs_of(stack: RunningStack, project_id: str, **params: Any) -> list[dict[str, Any]]:
    reply = stack.client.get("/api/v1/bugs", params={"project_id": project_id, **params})
    reply.raise_for_status()
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def indexed(stack: RunningStack) -> None:
    """Wait until every report admitted so far is in the store: the indexer takes the stream in
    order, so once a report sent now can be read, so can all before it."""
    marker = f"Marker{uuid.uuid4().hex[:8]}"
    payload = guide_payload(project_id="clients_marker", type=marker, timestamp=None)
    assert stack.report(payload).status_code == 200
    stack.wait_until(
        lambda: bool(bugs_of(stack, "clients_marker", error_type=marker)), 30, "indexed"
    )


def the_bug(stack: RunningStack, project_id: str, error_type: str) -> dict[str, Any]:
    """The one bug of `error_type` once it is indexed, in full (context, stack)."""
    stack.wait_until(
        lambda: bool(bugs_of(stack, project_id, error_type=error_type)),
        30,
        f"a {error_type} bug of {project_id}",
    )
    (bug,) = bugs_of(stack, project_id, error_type=error_type)
    full: dict[str, Any] = stack.client.get(f"/api/v1/bugs/{bug['id']}").json()
    return full


def source_line(path: Path, text: str) -> int:
    """The 1-based number of the line of `path` that contains `text`."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")
