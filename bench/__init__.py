"""Benchmarks that print figures: `logcenter bench ingest ...` and `logcenter bench search ...`
(bench/cli.py).

They are scripts run on demand (`make bench`, `make bench-search`), never part of the test suite.
They ship in the package with the helpers that start real services (bench/services.py,
bench/stack.py; the test suite starts its services with the same ones), so an installed
`logcenter` runs them too, on a machine with what they start: redis-server, wrk and, for
Elasticsearch, Java 21+ and its test distribution (bench/README.md).
"""

from __future__ import annotations

from pathlib import Path

#: The folder holding the packages: the repository root in a clone, site-packages when installed.
ROOT = Path(__file__).resolve().parent.parent
