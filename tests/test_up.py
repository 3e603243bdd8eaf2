"""`logcenter up`: the whole stack on embedded defaults, as the README starts it."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from bench.footprint import processes_in
from bench.services import free_port, wait_for
from bench.stack import guide_payload
from client.http import ApiClient
from tests.stack import ROOT


def start_up(
    data_dir: Path, api_port: int, dash_port: int, log: Path | None = None, **settings: str
) -> subprocess.Popen[bytes]:
    """`logcenter up` with no settings but `settings` (`anonymous_writes="true"`); its output
    goes to `log` when given, else to a pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")}
    env.update({f"LOGCENTER_{k.upper()}": v for k, v in settings.items()})
    with open(log, "ab") if log else contextlib.nullcontext(subprocess.PIPE) as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "config.cli",
                "up",
                "--data-dir",
                str(data_dir),
                "--host",
                "127.0.0.1",
                "--api-port",
                str(api_port),
                "--dashboard-port",
                str(dash_port),
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    return [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
def test_up_serves_reports_docs_and_dashboard_and_keeps_data(tmp_path: Path) -> None:
    api_port, dash_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    proc = start_up(tmp_path / "data", api_port, dash_port)
    try:
        wait_for(lambda: httpx.get(f"{api}/readyz", timeout=2).status_code == 200, 90, "API")
        reply = httpx.post(f"{api}/api/v1/logs/report", json=guide_payload())
        assert reply.json() == {"message": "Log reported", "id": 1}
        assert "swagger" in httpx.get(f"{api}/docs").text.lower()
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{dash_port}/", timeout=2).status_code == 200,
            90,
            "dashboard",
        )
        wait_for(lambda: httpx.get(f"{api}/api/v1/bugs/1").status_code == 200, 10, "bug 1")
    finally:
        leftovers = stop(proc)
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert "logcenter: up" in output and "logcenter: stopped" in output
    assert leftovers == [], f"processes left running: {leftovers}"
    # The embedded redis-server runs detached (in the data dir): it stops with `up` too.
    wait_for(lambda: not processes_in(tmp_path / "data"), 10, "the embedded Redis to stop")

    # A second `up` on the same data dir keeps everything.
    proc = start_up(tmp_path / "data", api_port, dash_port)
    try:
        wait_for(lambda: httpx.get(f"{api}/readyz", timeout=2).status_code == 200, 90, "API")
        assert httpx.get(f"{api}/api/v1/bugs/1").json()["count"] == 1
        again = httpx.post(f"{api}/api/v1/logs/report", json=guide_payload())
        assert again.json() == {"message": "Log deduplicated", "id": 1, "status": "NEW"}
        fresh = httpx.post(f"{api}/api/v1/logs/report", json=guide_payload(line_number=7))
        assert fresh.json()["id"] == 2
    finally:
        assert stop(proc) == []


def test_help_explains_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "config.cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("up", "api", "indexer", "alerts", "worker", "dashboard", "token", "bench"):
        assert command in out
    token = logcenter("token", "--help")
    for words in ("admin token", "LOGCENTER_ADMIN_TOKEN", "admin_token", "Authorization: Bearer"):
        assert words in " ".join(token.split()), words
    up = subprocess.run(
        [sys.executable, "-m", "config.cli", "up", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--data-dir", "--api-port", "--dashboard-port", "--workers"):
        assert option in up


def test_docs_render_without_internet(sqlite_api) -> None:  # type: ignore[no-untyped-def]
    page = sqlite_api.client.get("/docs").text
    assert "cdn" not in page.lower() and "http://" not in page and "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert asset in page
    import re

    for src in re.findall(r'(?:src|href)="(/[^"]+)"', page):
        assert sqlite_api.client.get(src).status_code == 200, src
    schema = sqlite_api.client.get("/openapi.json").json()
    report = schema["paths"]["/api/v1/logs/report"]["post"]
    assert report["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ReportIn"
    )
    assert "ReportIn" in schema["components"]["schemas"]
    for path, ops in schema["paths"].items():
        for op in ops.values():
            assert op.get("summary"), path


def logcenter(*args: str, data_dir: Path | None = None) -> str:
    """`logcenter <args>`'s output, with no settings but `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")}
    if data_dir is not None:
        env["LOGCENTER_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "config.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def edit_project(api: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.put(
        f"{api}/api/v1/projects/rtc_backend", json={"description": "edited"}, headers=headers
    )


def asks_for_token(dashboard: str) -> bool:
    """What the dashboard's layout says: does it ask for the admin token?"""
    layout = httpx.get(f"{dashboard}/_dash-layout", timeout=10).json()
    found: list[bool] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "token-required":
                found.append(node["props"]["data"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(layout)
    assert len(found) == 1, layout
    return found[0]


@pytest.mark.slow
def test_up_generates_an_admin_token_that_every_process_uses(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "up.log"
    api_port, dash_port = free_port(), free_port()
    api, dashboard = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{dash_port}"
    proc = start_up(data, api_port, dash_port, log)
    try:
        wait_for(lambda: httpx.get(f"{api}/readyz", timeout=2).status_code == 200, 90, "API")
        token_file = data / "admin_token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32
        assert logcenter("token", "--data-dir", str(data)).strip() == token
        wait_for(lambda: token in log.read_text(), 30, "the token in the banner")
        # The banner and the worker say how repairs run (CI runs as root, with bubblewrap).
        assert "  sandbox    repairs run sandboxed (bubblewrap: no network" in log.read_text()
        wait_for(
            lambda: "logcenter worker: repairs run sandboxed (bubblewrap" in log.read_text(),
            30,
            "the worker's sandbox line",
        )

        refused = edit_project(api, {})
        assert refused.status_code == 401, refused.text
        assert edit_project(api, bearer("not-the-token")).status_code == 403
        payload = guide_payload()
        del payload["repo_url"]  # no repository: the repair below fails at once, by the API
        bug_id = httpx.post(f"{api}/api/v1/logs/report", json=payload).json()["id"]
        assert edit_project(api, bearer(token)).status_code == 200

        # The dashboard asks for the token, and its client changes things with it.
        wait_for(lambda: httpx.get(dashboard, timeout=2).status_code == 200, 90, "dashboard")
        assert asks_for_token(dashboard)
        with ApiClient(api) as client:
            wait_for(lambda: httpx.get(f"{api}/api/v1/bugs/{bug_id}").status_code == 200, 10, "bug")
            assert client.change_status(bug_id, "VERIFYING", token=token)["status"] == "VERIFYING"
            assert client.start_repair(bug_id, token)["bug_id"] == bug_id
        # The worker moves the bug through the API: only with the token.
        wait_for(
            lambda: httpx.get(f"{api}/api/v1/bugs/{bug_id}").json()["status"] == "FIX_FAILED",
            60,
            f"the worker's FIX_FAILED (log: {log})",
        )
        reason = httpx.get(f"{api}/api/v1/bugs/{bug_id}").json()["failure_reason"]
        assert "no repository" in reason
    finally:
        assert stop(proc) == []

    # Started again, the stack keeps its token.
    proc = start_up(data, api_port, dash_port, log)
    try:
        wait_for(lambda: httpx.get(f"{api}/readyz", timeout=2).status_code == 200, 90, "API")
        assert token_file.read_text().strip() == token
        assert edit_project(api, {}).status_code == 401
        assert edit_project(api, bearer(token)).status_code == 200
        wait_for(lambda: log.read_text().count(token) == 2, 30, "the token in the new banner")
    finally:
        assert stop(proc) == []


@pytest.mark.slow
def test_anonymous_writes_open_writes_and_every_process_warns(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "up.log"
    api_port, dash_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    proc = start_up(data, api_port, dash_port, log, anonymous_writes="true")
    try:
        wait_for(lambda: httpx.get(f"{api}/readyz", timeout=2).status_code == 200, 90, "API")
        httpx.post(f"{api}/api/v1/logs/report", json=guide_payload())
        assert edit_project(api, {}).status_code == 200
        assert not (data / "admin_token").exists()
        wait_for(lambda: "OPEN to anyone" in log.read_text(), 30, "the banner's warning")
        warned = "writes are open to anyone who can reach the API"
        # The repair worker pool runs inside `up` (its workers start on demand).
        for process in ("up", "api", "indexer", "dashboard"):
            line = f"logcenter {process}: WARNING: {warned}"
            wait_for(lambda line=line: line in log.read_text(), 30, line)  # type: ignore[misc]
    finally:
        assert stop(proc) == []
