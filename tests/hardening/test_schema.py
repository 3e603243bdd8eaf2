"""Schemathesis over the published OpenAPI schema: no 500, replies as documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.python import asgi

from bench.services import RedisServer
from bench.stack import guide_payload
from config.settings import Settings
from ingest.app import create_app
from tests.stack import ApiHarness, settings_for

# The schema does not depend on settings: read it from an app that is never started.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]
)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[asgi.ASGIClient]:
    """The app on its own Redis (repairs queued by the fuzzer stay there) and SQLite, with a
    few bugs so ids 1-3 exist."""
    workdir: Path = tmp_path_factory.mktemp("schema")
    redis = RedisServer(workdir / "redis", appendonly=False).start()
    try:
        options = settings_for(
            workdir, redis.url, "schema:", store_url=f"sqlite:///{workdir / 'lc.db'}"
        )
        with ApiHarness(options) as seeded:
            for n in range(3):
                reply = seeded.report(guide_payload(timestamp=None, line_number=n))
                assert reply.status_code == 200
            seeded.drain()
        with asgi.get_client(create_app(options)) as client:
            yield client
        asgi.shutdown_lifespans()
    finally:
        redis.stop()


#: The API is stricter than a JSON schema can say (a runtime report names its file and line;
#: FIX_FAILED needs a reason; `from` < `to`), and pydantic accepts 0/1 for booleans: so no
#: "valid data accepted / invalid data refused" checks. Everything about replies is checked.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms(case: schemathesis.Case, session: asgi.ASGIClient) -> None:
    case.call_and_validate(base_url="http://testserver", session=session, checks=CHECKS)
