"""`python -m dashboards [--host H] [--port P] [--api-url URL]`: serve the dashboard."""

from __future__ import annotations

import argparse
import logging

from config.settings import get_settings
from dashboards.app import run


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m dashboards", description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=settings.dashboard_port)
    parser.add_argument(
        "--api-url", default=settings.api_url, help="base URL of the Log Center API"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run(settings.model_copy(update={"api_url": args.api_url}), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
