"""`logcenter bench {ingest|search|ui|footprint} [options]`: run the benchmark named first
with the options after it (config/cli.py hands the command here).

Each benchmark is imported only when it runs. The dispatch lives apart from the package's
`__init__`, which the benchmarks import for ROOT, so the imports run one way.
"""

from __future__ import annotations

import sys

USAGE = (
    "usage: logcenter bench {ingest|search|ui|footprint} [options]  (--help after the kind for "
    "options)"
)


def main(argv: list[str]) -> int:
    """Run the benchmark named by argv[0] with the remaining options; return the exit code."""
    if not argv or argv[0] not in ("ingest", "search", "ui", "footprint"):
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] == "ingest":
        from bench.ingest import run
    elif argv[0] == "search":
        from bench.search import run
    elif argv[0] == "ui":
        from bench.ui import run
    else:
        from bench.footprint import run
    return run(argv[1:])
