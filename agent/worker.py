"""The repair worker pool: N RQ worker processes on queue `repairs`, supervised until
SIGINT/SIGTERM.

The supervisor restarts a worker that dies. When one dies it kills that worker's work horse (RQ
runs each job in a forked horse, in a process group of its own, which would otherwise run on
unsupervised) and fails the job through RQ's own abandoned-job path, so the bug goes to
FIX_FAILED "worker died" at once instead of after the execution's heartbeat deadline. It also
sweeps the StartedJobRegistry regularly for workers that died on other machines.

Stopping: SIGTERM/SIGINT asks every worker for a warm shutdown (finish the current repair); after
`grace` seconds, or on a second signal, workers are stopped cold and their repairs failed with
"worker stopped".

On demand (`logcenter up`'s pool), no worker runs while the queue is empty: a worker process
starts when repairs wait, works in burst mode and exits once the queue is empty, so an idle
install holds no repair process at all (the first repair waits a few seconds for its worker).

A waiting worker imports nothing heavy: litellm, git and the repair code load in the work horse
that runs the job, so idle workers stay small (each repair pays the import, seconds against
minutes of repair).

The pool publishes what it can do (LLM, sandbox, tools: agent.capability) as a heartbeat in
Redis at start and every `worker_heartbeat_seconds`; the API and the indexer read it to decide
whether repairs can be queued without a click. It withdraws the heartbeat when it stops, and a
pool that dies is forgotten when its last heartbeat lapses.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import parse_composite_key

from agent.capability import worker_capability
from agent.failure import ABANDON_REASON, WORKER_DIED, record_death
from agent.queue import (
    HEARTBEAT_LIFETIMES,
    publish_capability,
    queue_name,
    repair_queue,
    withdraw_capability,
)
from agent.settings import configure, current_settings
from config.settings import Settings, get_settings

log = logging.getLogger("agent.worker")

#: How often a worker cleans registries; RQ's default is 10 minutes.
MAINTENANCE_INTERVAL = 60
SWEEP_INTERVAL = 15.0
DEFAULT_GRACE = 8.0


def redis_connection(settings: Settings) -> Redis:
    from config.wiring import redis_url

    return Redis.from_url(redis_url(settings))


class RepairWorker(Worker):
    """An RQ worker that records its work horse's pid, so a supervisor can stop an orphan."""

    def fork_work_horse(self, job: Job, queue: Any) -> None:
        super().fork_work_horse(job, queue)
        if self.horse_pid:
            self.connection.hset(self.key, "horse_pid", str(self.horse_pid))


def _horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
    if ret_val and os.WIFSIGNALED(ret_val):
        how = f"killed by signal {os.WTERMSIG(ret_val)}"
    else:
        how = f"exited with status {ret_val}"
    record_death(
        int(job.args[0]), f"{WORKER_DIED}: the repair process was {how}", current_settings()
    )


def run_worker(name: str, settings: Settings, *, burst: bool = False) -> None:
    """One RQ worker process (what the pool starts N times); `burst`: exit once the queue is
    empty."""
    configure(settings)
    worker = RepairWorker(
        [queue_name(settings.redis_prefix)],
        connection=redis_connection(settings),
        name=name,
        serializer=JSONSerializer,
        maintenance_interval=MAINTENANCE_INTERVAL,
        work_horse_killed_handler=_horse_killed,
    )
    worker.work(logging_level="INFO", with_scheduler=False, burst=burst)


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM (warm shutdown) when the supervisor dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Slot:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    name: str = ""
    restarts: int = 0
    restart_at: float = 0.0


@dataclass
class Pool:
    """Up to `size` worker processes: always running, or started `on_demand` while repairs wait.

    `run` is the pool as a process of its own; a supervisor that hosts the pool in its own loop
    calls `start`, then `tick` regularly, then `stop`.
    """

    size: int
    settings: Settings
    grace: float = DEFAULT_GRACE
    on_demand: bool = False
    slots: list[Slot] = field(default_factory=list)
    stopping: bool = False
    cold: bool = False
    next_beat: float = 0.0
    next_sweep: float = 0.0

    def __post_init__(self) -> None:
        self.redis = redis_connection(self.settings)
        self.registry = StartedJobRegistry(
            queue_name(self.settings.redis_prefix),
            connection=self.redis,
            serializer=JSONSerializer,
        )
        self.slots = [Slot(i) for i in range(self.size)]
        self.name = f"repair-{socket.gethostname()}-{os.getpid()}"

    def spawn(self, slot: Slot) -> None:
        slot.name = (
            f"repair-{socket.gethostname()}-{os.getpid()}-{slot.index}-{uuid.uuid4().hex[:6]}"
        )
        burst = ["--burst"] if self.on_demand else []
        slot.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.worker", "--name", slot.name, *burst],
            stdin=subprocess.PIPE,
            preexec_fn=_die_with_parent,
            # A terminal's Ctrl-C reaches the supervisor only, which stops workers warm first.
            start_new_session=True,
        )
        assert slot.proc.stdin is not None
        slot.proc.stdin.write(self.settings.model_dump_json().encode())
        slot.proc.stdin.close()
        log.info("worker %s started (pid %s)", slot.name, slot.proc.pid)

    def run(self) -> int:
        """The pool as a process: until SIGINT/SIGTERM, then a clean stop."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.start()
        while not self.stopping:
            self.tick()
            time.sleep(0.2)
        self.stop()
        return 0

    def start(self) -> None:
        configure(self.settings)
        if not self.on_demand:
            for slot in self.slots:
                self.spawn(slot)

    def tick(self) -> None:
        """Replace dead workers (or start those repairs wait for), beat, sweep when due."""
        self.supervise()
        now = time.monotonic()
        if now >= self.next_beat:
            self.beat()
            self.next_beat = now + self.settings.worker_heartbeat_seconds
        if now >= self.next_sweep:
            try:
                self.registry.cleanup()
            except RedisError as exc:  # swept again next time
                log.warning("registry not swept: %s", exc)
            self.next_sweep = now + SWEEP_INTERVAL

    def stop(self) -> None:
        """Withdraw the heartbeat, stop the workers (warm, then cold after `grace`) and close
        the connection: the embedded Redis shuts down only once its last client is gone."""
        self.stopping = True
        self.withdraw()
        self.shutdown()
        self.redis.close()

    def beat(self) -> None:
        """Publish what this pool can do, valid for a few heartbeat periods (on demand: the
        workers it would start)."""
        alive = sum(1 for s in self.slots if s.proc is not None and s.proc.poll() is None)
        capability = worker_capability(
            self.name, self.settings, self.size if self.on_demand else alive
        )
        lifetime = HEARTBEAT_LIFETIMES * self.settings.worker_heartbeat_seconds
        try:
            publish_capability(self.redis, self.settings.redis_prefix, capability, lifetime)
        except RedisError as exc:  # the next beat tries again; the workers go on meanwhile
            log.warning("heartbeat not published: %s", exc)

    def withdraw(self) -> None:
        """Stop being counted as a repair worker: no new repair should wait for this pool."""
        try:
            withdraw_capability(self.redis, self.settings.redis_prefix, self.name)
        except RedisError as exc:
            log.warning("heartbeat not withdrawn (it lapses by itself): %s", exc)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            self.cold = True
        self.stopping = True

    def supervise(self) -> None:
        now = time.monotonic()
        wanted = self._wanted()
        for slot in self.slots:
            if slot.proc is None:
                if now >= slot.restart_at and wanted > 0:
                    self.spawn(slot)
                    wanted -= 1
                continue
            code = slot.proc.poll()
            if code is None:
                continue
            if code == 0 and self.on_demand:  # a burst worker found the queue empty
                slot.proc = None
                continue
            log.warning("worker %s exited with %s", slot.name, code)
            self.abandon(slot.name, f"{WORKER_DIED}: worker process exited with status {code}")
            slot.proc = None
            slot.restarts += 1
            slot.restart_at = now + min(2 ** min(slot.restarts, 5), 30)

    def _wanted(self) -> int:
        """How many idle slots should get a worker now: all of them, or on demand as many as
        repairs wait beyond the workers running."""
        if not self.on_demand:
            return self.size
        running = sum(1 for s in self.slots if s.proc is not None)
        try:
            waiting = repair_queue(self.redis, self.settings.redis_prefix).count
        except RedisError as exc:
            log.warning("repair queue not read: %s", exc)
            return 0
        return max(0, waiting - running)

    def abandon(self, worker_name: str, reason: str) -> None:
        """Fail the jobs a dead worker was running, through RQ's abandoned-job path."""
        _kill_orphan_horse(self.redis, worker_name)
        expired = False
        for entry in self._executions_of(worker_name):
            job_id = parse_composite_key(entry)[0]
            try:
                job = Job.fetch(job_id, connection=self.redis, serializer=JSONSerializer)
            except NoSuchJobError:
                continue
            if job.get_status() != JobStatus.STARTED:
                continue
            job.meta[ABANDON_REASON] = reason
            job.save_meta()  # type: ignore[no-untyped-call]
            # Expire this execution now; cleanup() then fails it like any abandoned job.
            self.redis.zadd(self.registry.key, {entry: 0}, xx=True)
            expired = True
        if expired:
            self.registry.cleanup(timestamp=1)

    def _executions_of(self, worker_name: str) -> list[str]:
        """Started executions (`job_id:execution_id`) that `worker_name` was running.

        Read from each execution's own record: a worker stopped cold deletes its index of them.
        """
        found = []
        for raw in self.redis.zrange(self.registry.key, 0, -1):
            entry = raw.decode() if isinstance(raw, bytes) else str(raw)
            key = Execution.from_composite_key(entry, self.redis).key
            if self.redis.hget(key, "worker_name") == worker_name.encode():
                found.append(entry)
        return found

    def shutdown(self) -> None:
        running = [s for s in self.slots if s.proc and s.proc.poll() is None]
        for slot in running:
            assert slot.proc is not None
            slot.proc.send_signal(signal.SIGTERM)  # warm: finish the current repair
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and not self.cold:
            if all(s.proc is None or s.proc.poll() is not None for s in running):
                break
            time.sleep(0.1)
        for slot in running:
            assert slot.proc is not None
            if slot.proc.poll() is None:
                slot.proc.send_signal(signal.SIGTERM)  # cold: RQ kills the horse and exits
        for slot in running:
            assert slot.proc is not None
            try:
                slot.proc.wait(10)
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                slot.proc.wait()
            self.abandon(slot.name, "worker stopped: the worker pool was shut down mid-repair")
        log.info("worker pool stopped")


def _kill_orphan_horse(redis: Redis, worker_name: str) -> None:
    raw = redis.hget(f"rq:worker:{worker_name}", "horse_pid")
    if not raw:
        return
    pid = int(raw)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            if b"agent.worker" not in handle.read():
                return  # the pid was reused by something else
        os.killpg(pid, signal.SIGKILL)  # the horse leads its own process group
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return
    for _ in range(50):
        if not os.path.exists(f"/proc/{pid}") or _is_zombie(pid):
            return
        time.sleep(0.05)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().split(b") ", 1)[1][:1] == b"Z"
    except (FileNotFoundError, IndexError):
        return True


def run_pool(
    n: int, settings: Settings, grace: float = DEFAULT_GRACE, *, on_demand: bool = False
) -> int:
    """Run `n` repair workers until SIGINT/SIGTERM; then stop them cleanly."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    repair_queue(redis_connection(settings), settings.redis_prefix)  # fail early on a bad Redis URL
    return Pool(n, settings, grace, on_demand=on_demand).run()


def main(argv: list[str] | None = None) -> int:
    """Entry of one worker child: settings arrive as JSON on stdin (never in argv or env)."""
    parser = argparse.ArgumentParser(prog="python -m agent.worker")
    parser.add_argument("--name", required=True)
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    args = parser.parse_args(argv)
    data = sys.stdin.read()
    settings = Settings(**json.loads(data)) if data else get_settings()
    run_worker(args.name, settings, burst=args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
