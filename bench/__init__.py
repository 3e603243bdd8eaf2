"""Benchmarks that print figures: `logcenter bench ingest ...` and `logcenter bench search ...`.

They are scripts run on demand (`make bench`, `make bench-search`), never part of the test suite.
They ship in the package with the helpers that start real services (bench/services.py,
bench/stack.py; the test suite starts its services with the same ones), so an installed
`logcenter` runs them too, on a machine with what they start: redis-server, wrk and, for
Elasticsearch, Java 21+ and its test distribution (bench/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The folder holding the packages: the repository root in a clone, site-packages when installed.
ROOT = Path(__file__).resolve().parent.parent
USAGE = "usage: logcenter bench {ingest|search} [options]  (--help after the kind for options)"


def main(argv: list[str]) -> int:
    """Run the benchmark named by argv[0] with the remaining options; return the exit code."""
    if not argv or argv[0] not in ("ingest", "search"):
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] == "ingest":
        from bench.ingest import run
    else:
        from bench.search import run
    return run(argv[1:])
