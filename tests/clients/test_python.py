"""docs/clients/python as applications use it: a Django project (middleware and REST framework
exception handler) and a FastAPI app, each failing in a view, reach Log Center as bugs."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

import pytest

from bench.stack import RunningStack
from tests.clients.conftest import CLIENTS, bugs_of, indexed, source_line, the_bug
from tests.stack import ROOT

PROJECT = "py_clients"
KEY = "py-clients-ingest-key"
REPO = "https://git.example.com/team/py_clients.git"
MODULES = ("logcenter_report", "logcenter_django", "logcenter_fastapi")


@pytest.fixture(scope="module")
def client_modules(stack: RunningStack) -> Iterator[dict[str, ModuleType]]:
    """The client modules imported as a project imports them, configured by environment
    variables (the project has an ingest key, so the key is needed too)."""
    put = stack.client.put(f"/api/v1/projects/{PROJECT}", json={"ingest_key": KEY})
    assert put.status_code == 200, put.text
    settings = {
        "LOG_CENTER_URL": stack.api_url,
        "LOG_CENTER_PROJECT_ID": PROJECT,
        "ENVIRONMENT": "staging",
        "REPO_URL": REPO,
        "LOG_CENTER_KEY": KEY,
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    sys.path.insert(0, str(CLIENTS / "python"))
    try:
        for name in MODULES:
            sys.modules.pop(name, None)
        yield {name: importlib.import_module(name) for name in MODULES}
    finally:
        sys.path.remove(str(CLIENTS / "python"))
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def reports_sent() -> None:
    """Wait for the reporting threads the hooks started."""
    for thread in threading.enumerate():
        if thread.name == "log-center":
            thread.join(10)


@pytest.fixture(scope="module")
def django_client(client_modules: dict[str, ModuleType]) -> object:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.clients.django_site.settings"
    import django
    from django.test import Client

    django.setup()
    return Client(raise_request_exception=False)


def test_django_view_error_is_a_bug_with_the_request_path(
    stack: RunningStack, django_client: object
) -> None:
    from django.test import Client

    assert isinstance(django_client, Client)
    assert django_client.get("/users/u_12345/").status_code == 500
    bug = the_bug(stack, PROJECT, "PlainViewError")
    views = ROOT / "tests" / "clients" / "django_site" / "urls.py"
    assert (bug["file_path"], bug["line_number"]) == (
        str(views),
        source_line(views, 'raise PlainViewError(f"no user'),
    )
    assert bug["message"] == "no user u_12345"
    assert bug["environment"] == "staging"
    assert bug["context"]["request_path"] == "/users/u_12345/"
    assert bug["context"]["method"] == "GET"
    assert "Traceback (most recent call last):" in bug["stack_trace"]
    project = stack.client.get(f"/api/v1/projects/{PROJECT}").json()
    assert project["repo_url"] == REPO


def test_errors_are_reported_once_and_4xx_answers_not_at_all(
    stack: RunningStack, django_client: object
) -> None:
    from django.test import Client

    assert isinstance(django_client, Client)
    assert django_client.get("/api/orders/").status_code == 500
    assert django_client.get("/api/missing/").status_code == 404
    assert django_client.get("/users/missing/").status_code == 404
    reports_sent()
    indexed(stack)
    bug = the_bug(stack, PROJECT, "ApiViewError")
    assert bug["count"] == 1  # the handler and the middleware both saw it
    assert bug["context"]["request_path"] == "/api/orders/"
    assert bug["context"]["view"] == "Orders"
    assert not bugs_of(stack, PROJECT, error_type="NotFound")
    assert not bugs_of(stack, PROJECT, error_type="Http404")


def test_fastapi_route_error_is_a_bug_and_the_client_gets_a_500(
    stack: RunningStack, client_modules: dict[str, ModuleType]
) -> None:
    from fastapi import FastAPI, HTTPException
    from fastapi.testclient import TestClient

    class RouteError(Exception):
        pass

    app = FastAPI()
    client_modules["logcenter_fastapi"].add_log_center(app)

    @app.get("/orders/{order_id}")
    def order(order_id: int) -> dict[str, int]:
        if order_id == 404:
            raise HTTPException(404, "no such order")
        raise RouteError(f"order {order_id} is locked")

    with TestClient(app, raise_server_exceptions=False) as client:
        failed = client.get("/orders/7", headers={"X-Request-ID": "req_abc123"})
        assert (failed.status_code, failed.json()) == (500, {"detail": "Internal Server Error"})
        assert client.get("/orders/404").status_code == 404
    reports_sent()
    indexed(stack)
    bug = the_bug(stack, PROJECT, "RouteError")
    assert bug["message"] == "order 7 is locked"
    assert bug["file_path"] == __file__
    assert bug["line_number"] == source_line(ROOT / __file__, 'raise RouteError(f"order')
    assert bug["context"] == {"url": "/orders/7", "method": "GET", "request_id": "req_abc123"}
    assert not bugs_of(stack, PROJECT, error_type="HTTPException")


def test_reporting_never_breaks_the_caller(client_modules: dict[str, ModuleType]) -> None:
    report = client_modules["logcenter_report"]
    report.LOG_CENTER_URL = "http://127.0.0.1:9"  # nothing listens there
    try:
        report.report_error(ValueError("lost"), {"unserializable": object()})
    finally:
        report.LOG_CENTER_URL = os.environ["LOG_CENTER_URL"]
