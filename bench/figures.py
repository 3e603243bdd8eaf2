"""What every benchmark prints and records: percentiles, a text table, and a JSON file with the
figures, the machine and the versions they were measured on (bench/results/, git-ignored)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import WORK_DIR

RESULTS = WORK_DIR / "results"
PACKAGES = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "pydantic-core",
            "orjson", "redis", "elasticsearch")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]

    def line(values: list[str], raw: list[Any] | None = None) -> str:
        out = []
        for i, v in enumerate(values):
            numeric = raw is not None and isinstance(raw[i], int | float)
            out.append(v.rjust(widths[i]) if numeric else v.ljust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(c, r) for c, r in zip(cells, rows, strict=True))])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def machine() -> dict[str, Any]:
    cpu = ""
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for text in f:
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem_kb = int(f.readline().split()[1])
    load = os.getloadavg()
    return {"cores": os.cpu_count(), "memory_gib": round(mem_kb / 1024**2, 1), "cpu": cpu,
            "kernel": platform.release(), "load_at_start": [round(x, 2) for x in load]}


def versions(**extra: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    found.update({k: v for k, v in extra.items() if v})
    return found


def es_version(url: str) -> str | None:
    """The version of the node at `url` (the test distribution has no `GET /`)."""
    import httpx

    nodes = httpx.get(f"{url}/_nodes/_local/_none", params={"filter_path": "nodes.*.version"},
                      timeout=10).json().get("nodes", {})
    return next((n["version"] for n in nodes.values()), None)


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=RESULTS.parent, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write(kind: str, figures: dict[str, Any], *, started: datetime, **extra: str | None) -> Path:
    """Write the run's figures with machine and versions to bench/results/<kind>-<time>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": kind,
        "date": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "argv": sys.argv[1:],
        "machine": machine(),
        "versions": versions(**extra),
        "figures": figures,
    }
    stem = f"{kind}-{started.strftime('%Y%m%dT%H%M%SZ')}"
    path = RESULTS / f"{stem}.json"
    n = 1
    while path.exists():  # two runs started in the same second
        n += 1
        path = RESULTS / f"{stem}-{n}.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n")
    return path
