"""Log Center running the way it runs for users: `logcenter api` and `logcenter indexer` (and, on
request, `logcenter dashboard`) as separate OS processes, for the benchmarks and for the test
suite's end-to-end, crash and restart tests.

`guide_payload()` is the integration guide's example report, the body both send by default.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import ROOT
from bench.services import free_port, wait_for


def guide_payload(**overrides: Any) -> dict[str, Any]:
    """The integration guide's example report (Python client shape)."""
    payload: dict[str, Any] = {
        "project_id": "rtc_backend",
        "environment": "production",
        "level": "ERROR",
        "timestamp": "2026-01-30T10:30:00Z",
        "version": "1.2.3",
        "commit_hash": "abc1234",
        "repo_url": "https://gitea.example.com/team/rtc_backend.git",
        "error": {
            "type": "ValueError",
            "message": "invalid literal for int() with base 10: 'abc'",
            "file_path": "apps/users/views.py",
            "line_number": 42,
            "stack_trace": [
                "Traceback (most recent call last):",
                '  File "apps/users/views.py", line 42, in get_user',
                "    user_id = int(request.GET['id'])",
                "ValueError: invalid literal for int() with base 10: 'abc'",
            ],
        },
        "context": {
            "url": "/api/users/123",
            "method": "GET",
            "user_id": "u_12345",
            "request_id": "req_abc123",
        },
    }
    for key, value in overrides.items():
        if key in payload["error"] and key not in payload:
            payload["error"][key] = value
        else:
            payload[key] = value
    return payload


class RunningStack:
    """`logcenter api` and `logcenter indexer` as real processes."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "LOGCENTER_DATA_DIR": str(workdir),
            "LOGCENTER_INDEXER_BLOCK_MS": "50",
            "LOGCENTER_API_URL": self.api_url,
            # On 127.0.0.1 only; a stack that tests authentication sets a token in `env`.
            "LOGCENTER_ANONYMOUS_WRITES": "true",
            **env,
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.client = httpx.Client(base_url=self.api_url, timeout=10)

    def spawn(
        self, name: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """`logcenter <args>` as process `name`, with the stack's environment plus `env`."""
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "config.cli", *args],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start(self, *, indexers: int = 1, api_workers: int = 1) -> RunningStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.spawn(
            "api",
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(api_workers),
        )
        for n in range(indexers):
            self.spawn(f"indexer{n}", "indexer")
        wait_for(self.ready, 60, f"API on {self.api_url} (log: {self.workdir / 'api.log'})")
        return self

    def ready(self) -> bool:
        return httpx.get(f"{self.api_url}/readyz", timeout=2).status_code == 200

    def start_dashboard(self, name: str = "dashboard", **env: str) -> str:
        """`logcenter dashboard` on this stack's API (and admin token), with settings of its own
        in `env` (`LOGCENTER_DEFAULT_LANGUAGE="zh"`); its URL once it serves. It stops with the
        stack."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        self.spawn(name, "dashboard", "--host", "127.0.0.1", "--port", str(port), env=env)
        wait_for(
            lambda: httpx.get(url, timeout=2).status_code == 200,
            60,
            f"dashboard on {url} (log: {self.workdir / f'{name}.log'})",
        )
        return url

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(30)

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            del self.procs[name]
        self.client.close()

    def report(self, payload: dict[str, Any] | None = None, **overrides: Any) -> httpx.Response:
        return self.client.post("/api/v1/logs/report", json=payload or guide_payload(**overrides))

    def wait_until(self, check: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
        wait_for(check, timeout, what or "condition", 0.05)


@contextmanager
def running_stack(workdir: Path, env: dict[str, str], **start: Any) -> Iterator[RunningStack]:
    stack = RunningStack(workdir, env)
    try:
        yield stack.start(**start)
    finally:
        stack.stop()


def stack_env(redis_url: str, redis_prefix: str, **extra: str) -> dict[str, str]:
    env = {"LOGCENTER_REDIS_URL": redis_url, "LOGCENTER_REDIS_PREFIX": redis_prefix}
    env.update({f"LOGCENTER_{k.upper()}": v for k, v in extra.items()})
    return env
