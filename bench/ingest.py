"""Ingest benchmark: Log Center's report endpoint against a bare FastAPI ceiling, under wrk.

For each store backend, in one run: the ceiling app (bench/ceiling.py) under wrk, then the real
stack (`logcenter api` + `logcenter indexer` processes) under the same wrk script, then the time
the indexer needs after the load ends until the store holds every accepted report. Measuring the
ceiling right before each stack cancels most of what other work on the machine costs both.

A backend named `<backend>+failing-alert` runs the same with an alert rule on every fact
(new bugs, regressions, every occurrence: frequency 1, no cooldown) and a webhook that answers
500: ingestion must keep its pace while the deliverer retries a dead channel.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bench import ROOT, figures, payloads, shown
from bench.services import ElasticsearchNode, RedisServer, free_port, wait_for
from bench.stack import RunningStack
from config.wiring import start_embedded_redis
from store import open_store
from store.base import Store
from store.search import BugQuery, EventQuery

TARGETS = {"ratio": 0.6, "p99_ms": 50.0, "non_2xx": 0, "drain_s": 5.0}
PREFIX = "lc:"


@dataclass
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    #: CPU time the server process spent per answered request: independent of what else runs
    #: on the machine, unlike the rate.
    cpu_us_per_request: float = 0.0
    indexer_cpu_us_per_request: float = 0.0

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="logcenter bench ingest", description=__doc__)
    p.add_argument("--duration", type=int, default=15, help="seconds of measured load (15)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of load before measuring (3)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--fingerprints", type=int, default=1000, help="distinct bugs (1000)")
    p.add_argument("--backends", default="sqlite,elasticsearch",
                   help="comma-separated: sqlite, elasticsearch (both), each optionally with "
                        "+failing-alert (an alert channel answering 500 on every fact)")
    p.add_argument("--es-version", default=os.environ.get("LOGCENTER_TEST_ES_VERSION", "9.2.0"))
    p.add_argument("--es-url", default=None,
                   help="use this running node (own index prefix, dropped after) instead of "
                        "starting one")
    p.add_argument("--profile", action="store_true",
                   help="after measuring, record the API under the same load with py-spy "
                        "(flame graph and top frames under bench/results/)")
    p.add_argument("--drain-timeout", type=float, default=120.0)
    return p.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    if wrk_missing():
        return 2
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="logcenter-bench-"))
    bodies = payloads.bodies(args.fingerprints)
    script = payloads.wrk_script(workdir / "reports.lua", bodies)
    avg = sum(map(len, bodies)) / len(bodies)
    print(f"{len(bodies)} bodies over {args.fingerprints} fingerprints, {avg:,.0f} bytes on "
          f"average; wrk -t{args.threads} -c{args.connections} -d{args.duration}s")
    results: dict[str, Any] = {}
    es_version = redis_version = None
    try:
        for backend in args.backends.split(","):
            ceiling = measure_ceiling(args, script, workdir)
            print(f"ceiling: {ceiling.rate:,.0f} req/s, p50 {ceiling.p50_ms:.1f} ms, "
                  f"p99 {ceiling.p99_ms:.1f} ms")
            ours, extra = measure_stack(backend, args, script, workdir / backend)
            es_version = extra.pop("es_version", None) or es_version
            redis_version = extra.pop("redis_version", None) or redis_version
            results[backend] = {"ceiling": ceiling.__dict__, "ours": ours.__dict__,
                                "ceiling_rate": ceiling.rate, "rate": ours.rate,
                                "ratio": ours.rate / ceiling.rate if ceiling.rate else 0.0,
                                "cpu_ratio": ceiling.cpu_us_per_request
                                / max(ours.cpu_us_per_request, 1e-9),
                                **extra}
            print(f"{backend}: {ours.rate:,.0f} req/s, p50 {ours.p50_ms:.1f} ms, "
                  f"p99 {ours.p99_ms:.1f} ms, drained in {extra['drain_s']:.2f} s, "
                  f"{extra['reports_per_gate_call']} reports per gate call"
                  + (f", {extra['alert_failures_recorded']} failed alert deliveries recorded"
                     if "alert_failures_recorded" in extra else ""))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(render(results))
    record = {"targets": TARGETS, "options": vars(args), "bodies": len(bodies),
              "body_bytes_avg": round(avg), "backends": results}
    path = figures.write("ingest", record, started=started, elasticsearch_server=es_version,
                         redis_server=redis_version, wrk=_wrk_version())
    print(f"\nfigures written to {shown(path)}")
    return 0


def render(results: dict[str, Any]) -> str:
    rows = []
    for backend, r in results.items():
        ours, ceiling = r["ours"], r["ceiling"]
        rows.append([f"{backend} (ours)", round(r["rate"]), ours["p50_ms"], ours["p99_ms"],
                     ours["non_2xx"] + ours["socket_errors"], f"{r['ratio']:.2f}",
                     round(ours["cpu_us_per_request"]), f"{r['cpu_ratio']:.2f}",
                     r["drain_s"], "yes" if r["consistent"] else "NO", verdict(r)])
        rows.append(["  ceiling", round(r["ceiling_rate"]), ceiling["p50_ms"], ceiling["p99_ms"],
                     ceiling["non_2xx"] + ceiling["socket_errors"], "",
                     round(ceiling["cpu_us_per_request"]), "", None, "", ""])
    headers = ["run", "reports/s", "p50 ms", "p99 ms", "non-2xx", "ratio", "API cpu us/req",
               "cpu ratio", "drain s", "consistent", "targets"]
    return figures.table(headers, rows)


def verdict(r: dict[str, Any]) -> str:
    misses = []
    if r["ratio"] < TARGETS["ratio"]:
        misses.append("ratio")
    if r["ours"]["p99_ms"] > TARGETS["p99_ms"]:
        misses.append("p99")
    if r["ours"]["non_2xx"] + r["ours"]["socket_errors"] > TARGETS["non_2xx"]:
        misses.append("errors")
    if r["drain_s"] > TARGETS["drain_s"] or not r["consistent"]:
        misses.append("drain")
    return "met" if not misses else "missed: " + ",".join(misses)


# -- load ----------------------------------------------------------------------------------


def wrk_missing() -> bool:
    """True, said on stderr, when wrk is not installed."""
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk (make test-deps installs it)", file=sys.stderr)
        return True
    return False


def wrk(url: str, script: Path, args: argparse.Namespace, seconds: int) -> Load:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout",
           "5s", "-s", str(script), url + payloads.PATH]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    return Load(
        requests=raw["requests"], seconds=raw["duration_us"] / 1e6,
        non_2xx=raw["errors_status"],
        socket_errors=sum(raw[k] for k in ("errors_connect", "errors_read", "errors_write",
                                           "errors_timeout")),
        p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000, max_ms=raw["max_us"] / 1000)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(url: str, script: Path, args: argparse.Namespace, pid: int,
             indexer_pid: int | None = None) -> Load:
    """One measured wrk run, with the CPU the server (and indexer) used for it."""
    before = cpu_seconds(pid), cpu_seconds(indexer_pid) if indexer_pid else 0.0
    load = wrk(url, script, args, args.duration)
    if load.requests:
        load.cpu_us_per_request = (cpu_seconds(pid) - before[0]) * 1e6 / load.requests
        if indexer_pid:
            load.indexer_cpu_us_per_request = \
                (cpu_seconds(indexer_pid) - before[1]) * 1e6 / load.requests
    return load


def _wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).split(" [")[0].removeprefix("wrk ").strip()


# -- the ceiling -----------------------------------------------------------------------------


@contextlib.contextmanager
def ceiling_app(workdir: Path) -> Iterator[tuple[str, int]]:
    """bench/ceiling.py under uvicorn with the flags `logcenter api` uses; yields URL and pid."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bench.ceiling:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--log-level", "warning", "--no-access-log", "--proxy-headers",
           "--timeout-graceful-shutdown", "10"]
    # A RunningStack holding only this process: it stops it as it stops the real stack.
    holder = RunningStack(workdir, {})
    try:
        with open(workdir / "ceiling.log", "ab") as log:
            proc = holder.procs["ceiling"] = subprocess.Popen(
                cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        body = payloads.bodies(1, 1)[0]
        wait_for(lambda: httpx.post(url + payloads.PATH, content=body, timeout=2)
                 .status_code == 200, 30, "the ceiling app")
        yield url, proc.pid
    finally:
        holder.stop()


def measure_ceiling(args: argparse.Namespace, script: Path, workdir: Path) -> Load:
    with ceiling_app(workdir) as (url, pid):
        if args.warmup:
            wrk(url, script, args, args.warmup)
        return measured(url, script, args, pid)


# -- the stack -------------------------------------------------------------------------------


def measure_stack(
    backend: str, args: argparse.Namespace, script: Path, workdir: Path
) -> tuple[Load, dict[str, Any]]:
    """Run `logcenter api` + `logcenter indexer` on `backend`; measure load and drain."""
    workdir.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {}
    base, _, variant = backend.partition("+")
    with ExitStack() as cleanup:
        env, store_url, options = _backend_env(base, args, workdir, cleanup, extra)
        if variant == "failing-alert":
            env["LOGCENTER_ALERTS_ALLOW_PRIVATE"] = "true"
        elif variant:
            raise SystemExit(f"unknown variant {variant!r} (failing-alert)")
        stack = RunningStack(workdir, env)
        cleanup.callback(stack.stop)
        stack.start()
        cleanup.push(_show_logs_on_error(workdir))
        if variant:
            _alert_on_everything(stack, cleanup.enter_context(_failing_receiver()))
        redis = Redis.from_url(env["LOGCENTER_REDIS_URL"])
        cleanup.callback(redis.close)
        extra["redis_version"] = redis.info("server")["redis_version"]
        store = open_store(store_url, **options)
        cleanup.callback(store.close)
        url = stack.api_url
        if args.warmup:
            wrk(url, script, args, args.warmup)
            drained_after(time.monotonic(), redis, store, args.drain_timeout)
        calls = gate_calls(redis)
        load = measured(url, script, args, stack.procs["api"].pid, stack.procs["indexer0"].pid)
        extra["reports_per_gate_call"] = round(load.requests / max(gate_calls(redis) - calls, 1), 1)
        extra["drain_s"], _ = drained_after(time.monotonic(), redis, store, args.drain_timeout)
        extra["consistent"] = _consistent(redis, store, extra, args.drain_timeout)
        if variant:
            failed = [d for d in store.list_alert_deliveries(limit=500) if not d.ok]
            extra["alert_failures_recorded"] = len(failed)
        if args.profile:
            extra["profile"] = profile(stack, url, script, args, backend)
    return load, extra


def _backend_env(
    backend: str, args: argparse.Namespace, workdir: Path, cleanup: ExitStack,
    extra: dict[str, Any],
) -> tuple[dict[str, str], str, dict[str, object]]:
    """Settings for the stack on `backend`, starting what it needs (cleaned up by `cleanup`)."""
    if backend == "sqlite":
        # Embedded defaults: SQLite under the data dir and the embedded Redis, started once
        # for both processes as `logcenter up` does (each would otherwise start its own).
        url = start_embedded_redis(workdir)
        cleanup.callback(_shutdown_redis, url)
        return {"LOGCENTER_REDIS_URL": url}, f"sqlite:///{workdir / 'logcenter.db'}", {}
    if backend != "elasticsearch":
        raise SystemExit(f"unknown backend {backend!r} (sqlite, elasticsearch)")
    es_url = args.es_url
    if es_url is None:
        node_dir = Path(tempfile.mkdtemp(prefix="logcenter-bench-es-"))
        cleanup.callback(shutil.rmtree, node_dir, True)
        node = ElasticsearchNode(node_dir, args.es_version).start()
        cleanup.callback(node.stop)
        es_url = node.url
    prefix = f"bench{uuid.uuid4().hex[:8]}-"
    cleanup.callback(_drop_indices, es_url, prefix)
    extra["es_version"] = figures.es_version(es_url)
    redis_server = RedisServer(workdir / "redis", appendonly=False).start()
    cleanup.callback(redis_server.stop)
    env = {"LOGCENTER_STORE_URL": es_url, "LOGCENTER_ES_INDEX_PREFIX": prefix,
           "LOGCENTER_REDIS_URL": redis_server.url}
    return env, es_url, {"index_prefix": prefix}


@contextlib.contextmanager
def _failing_receiver() -> Iterator[str]:
    """A webhook on 127.0.0.1 answering 500 to everything; its URL."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Failing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def _alert_on_everything(stack: RunningStack, url: str) -> None:
    """A channel to `url` and a rule alerting it of every fact, without cooldown."""
    channel = stack.client.post(
        "/api/v1/alerts/channels", json={"name": "failing", "kind": "webhook", "url": url}
    )
    channel.raise_for_status()
    rule = {"name": "everything", "triggers": ["new_bug", "regression", "frequency"],
            "frequency_count": 1, "frequency_minutes": 1, "cooldown_minutes": 0,
            "channel_ids": [channel.json()["id"]]}
    stack.client.post("/api/v1/alerts/rules", json=rule).raise_for_status()


def _drop_indices(es_url: str, prefix: str) -> None:
    from store.elasticsearch import ElasticsearchStore

    store = ElasticsearchStore(es_url, index_prefix=prefix)
    try:
        store.drop()
    finally:
        store.close()


def _show_logs_on_error(workdir: Path) -> Any:
    def show(exc_type: type[BaseException] | None, *_: object) -> bool:
        if exc_type is not None and exc_type is not KeyboardInterrupt:
            for log in sorted(workdir.glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name} (last lines)", *tail, sep="\n", file=sys.stderr)
        return False

    return show


def _shutdown_redis(url: str) -> None:
    """Stop the embedded Redis now (its directory is about to go; no final save)."""
    client = Redis.from_url(url)
    with contextlib.suppress(RedisConnectionError):
        client.shutdown(nosave=True)
    client.close()


def gate_calls(redis: Redis) -> int:
    """Script calls the gate made so far (each admits a batch of reports)."""
    stats = redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))


def accepted_total(redis: Redis) -> int:
    metrics = redis.hgetall(PREFIX + "metrics")
    return sum(int(metrics.get(k, 0)) for k in (b"new", b"deduplicated"))


def drained_after(
    load_end: float, redis: Redis, store: Store, timeout: float
) -> tuple[float, int]:
    """Seconds from `load_end` until the store counts every accepted report (and the stream is
    empty); returns (seconds, accepted reports)."""
    deadline = load_end + timeout
    while time.monotonic() < deadline:
        # Re-read: requests in flight when wrk stopped may still be admitted.
        accepted = accepted_total(redis)
        if redis.xlen(PREFIX + "stream") == 0 and bug_count_sum(store) == accepted:
            return time.monotonic() - load_end, accepted
        time.sleep(0.05)
    raise TimeoutError(
        f"the indexer did not drain the backlog within {timeout}s: accepted {accepted}, "
        f"in the store {bug_count_sum(store)}, stream length {redis.xlen(PREFIX + 'stream')}")


def bug_count_sum(store: Store) -> int:
    total, cursor = 0, None
    while True:
        page = store.search_bugs(BugQuery(size=500, sort="id", cursor=cursor, facets=()))
        total += sum(b.count for b in page.items)
        if page.next_cursor is None:
            return total
        cursor = page.next_cursor


def _consistent(redis: Redis, store: Store, extra: dict[str, Any], timeout: float) -> bool:
    """After the last in-flight request is answered: every accepted report is one event and one
    count of its bug."""
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 1.0:
        now = accepted_total(redis)
        if now != last:
            last, stable_since = now, time.monotonic()
        time.sleep(0.1)
    _, accepted = drained_after(time.monotonic(), redis, store, timeout)
    events = store.search_events(EventQuery(size=0)).total
    bugs = store.search_bugs(BugQuery(size=0, facets=())).total
    counted = bug_count_sum(store)
    extra.update(accepted_total=accepted, events_stored=events, bugs_stored=bugs,
                 bug_count_sum=counted)
    return bool(events == accepted == counted)


# -- profile ---------------------------------------------------------------------------------


def profile(
    stack: RunningStack, url: str, script: Path, args: argparse.Namespace, backend: str
) -> dict[str, Any]:
    """py-spy on the API and the indexer under the same load (not measured): top frames."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("--profile needs py-spy (pip install py-spy)", file=sys.stderr)
        return {}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    files = {name: figures.RESULTS / f"ingest-profile-{backend}-{name}-{stamp}.txt"
             for name in ("api", "indexer0")}
    spies = [subprocess.Popen([spy, "record", "--pid", str(stack.procs[name].pid), "--duration",
                               str(args.duration), "--rate", "200", "--format", "raw",
                               "--output", str(path), "--nonblocking"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for name, path in files.items()]
    try:
        wrk(url, script, args, args.duration)
    finally:
        for proc in spies:
            proc.wait(args.duration + 60)
    out = {}
    for name, path in files.items():
        top = top_frames(path)
        print(f"\nprofile of {name} ({backend}), share of samples: {shown(path)}")
        ours = [r for r in top["rows"] if "(ingest/" in r[0] or "(store/" in r[0]]
        by_own = sorted(top["rows"], key=lambda r: -r[1])
        print(figures.table(["own %", "incl %", "frame (largest own share, then ours)"],
                            [[s, i, f] for f, s, i in by_own[:10] + ours[:12]]))
        out[name] = {"file": shown(path), "top": top["rows"][:40]}
    return out


def top_frames(raw: Path) -> dict[str, Any]:
    """Own and inclusive sample shares per frame from py-spy's collapsed-stack output."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for text in raw.read_text().splitlines():
        stack, _, count = text.rpartition(" ")
        if not count.isdigit() or "WorkerThread.run" in stack:  # idle thread-pool threads
            continue
        n = int(count)
        frames = [f.split(" (")[0] + " " + _short(f) for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    rows = [(f, round(100 * own[f] / total, 1), round(100 * incl[f] / total, 1))
            for f, _ in incl.most_common(80)] if total else []
    return {"samples": total, "rows": rows}


def _short(frame: str) -> str:
    """`func (path/to/module.py:12)` -> `module.py:12`."""
    where = frame.rpartition(" (")[2].rstrip(")")
    path, _, line = where.rpartition(":")
    return f"({'/'.join(Path(path).parts[-2:])}:{line})"
