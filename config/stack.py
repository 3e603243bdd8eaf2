"""`logcenter up`: every component as a child process, supervised, stopped together.

The parent owns the embedded Redis (when no Redis URL is configured), starts the API, the
indexer and the dashboard, restarts a child that dies unexpectedly, and on Ctrl-C/SIGTERM stops
the API first (no new acknowledgements), then the rest. The children share the data dir, so
without LOGCENTER_ADMIN_TOKEN they all use the admin token kept there.

The parent also hosts the repair worker pool (agent.worker.Pool) in its own loop, on demand: a
repair worker process runs only while repairs wait or run, so an idle install holds none (a
process of its own for the pool would cost ~40 MB of memory for a loop that mostly sleeps).
Another light component joins `up` as one more `Child` in `_plan`.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from config.settings import Settings, read_admin_token
from config.wiring import start_embedded_redis

if TYPE_CHECKING:
    from agent.worker import Pool


@dataclass
class Child:
    name: str
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0

    def start(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "config.cli", *self.args], env=env, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Stack:
    settings: Settings
    workers: int = 2
    host: str = "0.0.0.0"
    children: list[Child] = field(default_factory=list)
    pool: Pool | None = None
    stopping: bool = False

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LOGCENTER_DATA_DIR"] = str(self.settings.data_dir.resolve())
        if not self.settings.redis_url:
            env["LOGCENTER_REDIS_URL"] = start_embedded_redis(self.settings.data_dir)
        env.setdefault("LOGCENTER_API_URL", f"http://127.0.0.1:{self.settings.api_port}")
        return env

    def _plan(self) -> list[Child]:
        """The child processes, in start order (the API first: it is stopped first too)."""
        s = self.settings
        plan = [
            Child("api", ["api", "--host", self.host, "--port", str(s.api_port)]),
            Child("indexer", ["indexer"]),
        ]
        if importlib.util.find_spec("dashboards.app"):
            plan.append(
                Child(
                    "dashboard", ["dashboard", "--host", self.host, "--port", str(s.dashboard_port)]
                )
            )
        return plan

    def _repair_pool(self, env: dict[str, str]) -> Pool | None:
        """The on-demand repair worker pool this process hosts (None: `--workers 0`, or the
        agent is not installed). Its workers get the settings with the Redis URL resolved."""
        if self.workers <= 0 or not importlib.util.find_spec("agent.worker"):
            return None
        from agent.confinement import announce
        from agent.worker import Pool

        settings = self.settings.model_copy(
            update={"redis_url": env["LOGCENTER_REDIS_URL"], "api_url": env["LOGCENTER_API_URL"]}
        )
        announce(settings, "logcenter worker")  # whether repairs run sandboxed, or not at all
        return Pool(self.workers, settings, on_demand=True)

    def run(self) -> int:
        env = self._env()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.children = self._plan()
        for child in self.children:
            child.start(env)
        self.pool = self._repair_pool(env)
        if self.pool:
            self.pool.start()
        self._announce()
        try:
            while not self.stopping:
                self._supervise(env)
                if self.pool:
                    self.pool.tick()
                time.sleep(0.5)
        finally:
            self.children[0].stop()  # the API first: stop acknowledging before the rest stops
            if self.pool:
                self.pool.stop()  # repairs running get `grace` seconds to finish
            for child in self.children[1:]:
                child.stop()
        print("logcenter: stopped", flush=True)
        return 0

    def _stop(self, *_: object) -> None:
        if self.stopping and self.pool:
            self.pool.cold = True  # a second Ctrl-C: do not wait for repairs to finish
        self.stopping = True

    def _supervise(self, env: dict[str, str]) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.alive() or self.stopping:
                continue
            if child.next_start == 0.0:
                code = child.proc.returncode if child.proc else None
                child.restarts += 1
                delay = min(2 ** min(child.restarts, 5), 30)
                child.next_start = now + delay
                print(
                    f"logcenter: {child.name} exited ({code}); restarting in {delay}s",
                    file=sys.stderr,
                    flush=True,
                )
            elif now >= child.next_start:
                child.next_start = 0.0
                child.start(env)

    def _announce(self) -> None:
        s = self.settings
        api = f"http://127.0.0.1:{s.api_port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.stopping:
            try:
                if httpx.get(f"{api}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        names = ", ".join(c.name for c in self.children)
        if self.pool:
            names += f", repair workers (up to {self.pool.size}, started on demand)"
        print(
            f"logcenter: up ({names})\n"
            f"  API        {api}  (docs: {api}/docs)\n"
            f"  dashboard  http://127.0.0.1:{s.dashboard_port}\n"
            f"  data       {s.data_dir.resolve()}\n"
            f"  {self._writes()}\n"
            f"{self._repairs()}"
            "  Ctrl-C stops everything.",
            flush=True,
        )

    def _repairs(self) -> str:
        """The banner's line on how repairs run (sandboxed, not at all, or unconfined)."""
        if self.pool is None:
            return ""
        from agent.confinement import sandbox_status

        return f"  sandbox    {sandbox_status(self.settings).line}\n"

    def _writes(self) -> str:
        """The banner's line on who may write: the token to use, or a warning."""
        s = self.settings
        if s.writes_open():
            return "writes     OPEN to anyone who can reach the API (LOGCENTER_ANONYMOUS_WRITES)"
        if s.admin_token == read_admin_token(s.data_dir):
            return (
                f"token      {s.admin_token}  (for changes: the dashboard asks for it once; "
                "`logcenter token` prints it again)"
            )
        return "token      LOGCENTER_ADMIN_TOKEN's, for changes (the dashboard asks for it once)"
