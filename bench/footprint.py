"""Footprint benchmark: the memory `logcenter up` holds on its embedded defaults.

It starts `logcenter up` in a temporary data dir, waits until the API answers and the dashboard
serves, lets it settle, and reads each process's PSS (proportional set size, from
/proc/<pid>/smaps_rollup: a page shared by N processes counts 1/N in each, so forked children
are not counted twice). Then it runs the ingest benchmark's load (wrk, same script) against the
API while sampling, and prints each process's PSS idle and at the loaded peak, with the sums.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import figures, payloads, shown
from bench.ingest import Load, wrk, wrk_missing
from bench.services import free_port, wait_for

#: Targets of issue 18, in MiB: the sum over every process `up` starts.
TARGETS = {"idle_mib": 250.0, "load_mib": 400.0}
MIB = 1024 * 1024


@dataclass(frozen=True)
class Proc:
    pid: int
    name: str


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="logcenter bench footprint", description=__doc__)
    p.add_argument("--settle", type=float, default=10.0,
                   help="seconds to wait after the stack serves before the idle reading (10)")
    p.add_argument("--duration", type=int, default=15, help="seconds of load (15)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--fingerprints", type=int, default=1000, help="distinct bugs (1000)")
    p.add_argument("--workers", type=int, default=None,
                   help="`up --workers` (default: up's own default)")
    return p.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    if wrk_missing():
        return 2
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="logcenter-footprint-") as tmp:
        workdir = Path(tmp)
        with running_up(workdir, args.workers) as (up, api):
            time.sleep(args.settle)
            roots = [up, *processes_in(workdir / "data")]  # the embedded Redis runs detached
            idle = max((pss_by_process(roots) for _ in range(3)), key=total)
            print(f"idle: {total(idle) / MIB:,.0f} MiB over {len(idle)} processes", flush=True)
            script = payloads.wrk_script(workdir / "reports.lua",
                                         payloads.bodies(args.fingerprints))
            load, samples = under_load(roots, api, script, args)
            peak = max(samples, key=total)
            print(f"under load: {total(peak) / MIB:,.0f} MiB at the peak, "
                  f"{load.rate:,.0f} reports/s", flush=True)
    print()
    print(render(idle, peak))
    record = {"targets": TARGETS, "options": vars(args),
              "idle_mib": _mib_by_name(idle), "load_mib": _mib_by_name(peak),
              "idle_total_mib": round(total(idle) / MIB, 1),
              "load_total_mib": round(total(peak) / MIB, 1), "load": load.__dict__}
    path = figures.write("footprint", record, started=started)
    print(f"\nfigures written to {shown(path)}")
    return 0


@contextmanager
def running_up(workdir: Path, workers: int | None) -> Iterator[tuple[int, str]]:
    """`logcenter up` on embedded defaults in `workdir` (no LOGCENTER_* setting, no .env);
    yields its pid and API URL once the API is ready and the dashboard serves."""
    api_port, dash_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "config.cli", "up", "--data-dir", str(workdir / "data"),
           "--host", "127.0.0.1", "--api-port", str(api_port), "--dashboard-port", str(dash_port)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")}
    with open(workdir / "up.log", "ab") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    api = f"http://127.0.0.1:{api_port}"
    try:
        what = f"logcenter up (log: {workdir / 'up.log'})"
        wait_for(lambda: httpx.get(f"{api}/readyz", timeout=2).status_code == 200, 120, what)
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{dash_port}/", timeout=5).status_code
                 == 200, 120, what)
        yield proc.pid, api
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def under_load(roots: list[int], api: str, script: Path,
               args: argparse.Namespace) -> tuple[Load, list[dict[Proc, int]]]:
    """Run wrk against the API while sampling PSS every half second (and once after)."""
    result: list[Load] = []
    thread = threading.Thread(
        target=lambda: result.append(wrk(api, script, args, args.duration)), daemon=True)
    thread.start()
    samples = []
    while thread.is_alive():
        samples.append(pss_by_process(roots))
        thread.join(0.5)
    samples.append(pss_by_process(roots))
    if not result:
        raise RuntimeError("wrk failed (see the output above)")
    return result[0], samples


# -- reading /proc ------------------------------------------------------------------------------


def pss_by_process(roots: list[int]) -> dict[Proc, int]:
    """PSS in bytes of `roots` and every process below them; those gone meanwhile are left out."""
    found = {}
    for pid in sorted({p for root in roots for p in (root, *descendants(root))}):
        pss = pss_bytes(pid)
        if pss is not None:
            found[Proc(pid, process_name(pid))] = pss
    return found


def processes_in(directory: Path) -> list[int]:
    """Processes whose working directory is `directory` (redis-server works in its data dir)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cwd").resolve() == directory.resolve():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def descendants(root: int) -> list[int]:
    """Every process below `root` (children of children included), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def pss_bytes(pid: int) -> int | None:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return None


def process_name(pid: int) -> str:
    """A reader's name: the `logcenter` command (`api`, `indexer`...), `redis-server`, a repair
    worker, or the executable."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    argv = [a for a in argv if a]
    if not argv:
        return "?"
    if "config.cli" in argv:
        return argv[argv.index("config.cli") + 1] if argv[-1] != "config.cli" else "logcenter"
    if "agent.worker" in argv:
        return "repair worker"
    return Path(argv[0].split()[0]).name


def total(sample: dict[Proc, int]) -> int:
    return sum(sample.values())


def _mib_by_name(sample: dict[Proc, int]) -> dict[str, float]:
    named: dict[str, float] = {}
    for proc, pss in sorted(sample.items(), key=lambda item: item[0].pid):
        key = proc.name if proc.name not in named else f"{proc.name} ({proc.pid})"
        named[key] = round(pss / MIB, 1)
    return named


def render(idle: dict[Proc, int], peak: dict[Proc, int]) -> str:
    rows: list[list[Any]] = []
    for proc in sorted(set(idle) | set(peak), key=lambda p: p.pid):
        rows.append([proc.name, proc.pid, _mib(idle.get(proc)), _mib(peak.get(proc))])
    rows.append(["sum", None, _mib(total(idle)), _mib(total(peak))])
    met = [total(idle) / MIB <= TARGETS["idle_mib"], total(peak) / MIB <= TARGETS["load_mib"]]
    rows.append(["target", None, f"<= {TARGETS['idle_mib']:.0f}" + ("" if met[0] else " MISSED"),
                 f"<= {TARGETS['load_mib']:.0f}" + ("" if met[1] else " MISSED")])
    return figures.table(["process", "pid", "idle PSS MiB", "under load MiB"], rows)


def _mib(value: int | None) -> float | None:
    return None if value is None else value / MIB
