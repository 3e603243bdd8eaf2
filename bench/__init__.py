"""Benchmarks that print figures: `logcenter bench ingest ...`, `logcenter bench search ...` and
`logcenter bench ui ...` (bench/cli.py).

They are scripts run on demand (`make bench`, `make bench-search`), never part of the test suite.
They ship in the package with the helpers that start real services (bench/services.py,
bench/stack.py; the test suite starts its services with the same ones), so an installed
`logcenter` runs them too, on a machine with what they start: redis-server, wrk and, for
Elasticsearch, Java 21+ and its test distribution (bench/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path

#: The folder holding the packages: the repository root in a clone, site-packages when installed.
ROOT = Path(__file__).resolve().parent.parent
#: Where results and seeded data go: bench/ in a clone (git-ignored), `./logcenter-bench/` when
#: installed (never into site-packages), or LOGCENTER_BENCH_DIR.
WORK_DIR = Path(
    os.environ.get("LOGCENTER_BENCH_DIR")
    or (ROOT / "bench" if (ROOT / "pyproject.toml").is_file() else Path.cwd() / "logcenter-bench")
)


def shown(path: Path) -> str:
    """`path` as a user should read it: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
