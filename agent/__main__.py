"""`python -m agent --workers N`: run the repair worker pool (same as `logcenter worker`)."""

from __future__ import annotations

import argparse
import sys

from agent.confinement import announce
from agent.worker import DEFAULT_GRACE, run_pool
from config.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE,
        help="seconds a stopping worker may finish its repair (default %(default)s)",
    )
    parser.add_argument(
        "--on-demand",
        action="store_true",
        help="start worker processes only while repairs wait (as `logcenter up` does)",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    announce(settings, "python -m agent")
    return run_pool(args.workers, settings, args.grace, on_demand=args.on_demand)


if __name__ == "__main__":
    sys.exit(main())
