"""Benchmarks that print figures: `logcenter bench ingest ...` and `logcenter bench search ...`.

They are scripts run on demand (`make bench`, `make bench-search`), never part of the test suite.
They start real services with the test suite's helpers (tests/services.py, tests/stack.py), so they
run from a clone of the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USAGE = "usage: logcenter bench {ingest|search} [options]  (--help after the kind for options)"


def main(argv: list[str]) -> int:
    """Run the benchmark named by argv[0] with the remaining options; return the exit code."""
    if not argv or argv[0] not in ("ingest", "search"):
        print(USAGE, file=sys.stderr)
        return 2
    # The service helpers live in tests/, which an installed entry point does not put on the path.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if argv[0] == "ingest":
        from bench.ingest import run
    else:
        from bench.search import run
    return run(argv[1:])
