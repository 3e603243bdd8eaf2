"""`python -m ingest`: run the API (same as `logcenter api`)."""

from config.cli import main

main(["api", *__import__("sys").argv[1:]])
