"""`logcenter up`: the whole stack on embedded defaults, as the README starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from bench.services import free_port, wait_for
from bench.stack import guide_payload
from tests.stack import ROOT


def start_up(data_dir: Path, api_port: int, dash_port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")}
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
        stdout=subprocess.PIPE,
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
    for command in ("up", "api", "indexer", "worker", "dashboard", "bench"):
        assert command in out
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
