"""Report exceptions to Log Center from any Python program (Django, FastAPI, scripts, workers).

Settings, read from the environment when this module is imported:

    LOG_CENTER_URL         Log Center's API (default http://localhost:8002)
    LOG_CENTER_PROJECT_ID  this project's id in Log Center (default rtc_backend)
    ENVIRONMENT            development, staging or production (default development)
    REPO_URL               the project's git repository, for the repair agent (optional)
    LOG_CENTER_KEY         the project's ingest key, if one is set in Log Center (optional)

Reporting never raises into the caller and gives up after 3 seconds;
`report_error_in_background` does not make the caller wait at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import traceback
from typing import Any

import requests

LOG_CENTER_URL = os.getenv("LOG_CENTER_URL", "http://localhost:8002")
PROJECT_ID = os.getenv("LOG_CENTER_PROJECT_ID", "rtc_backend")
ENVIRONMENT = os.getenv("ENVIRONMENT", "development")
REPO_URL = os.getenv("REPO_URL", "")
INGEST_KEY = os.getenv("LOG_CENTER_KEY", "")


def build_report(exc: BaseException, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report body for `exc`: where it was raised, its stack, and `context`."""
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    report: dict[str, Any] = {
        "project_id": PROJECT_ID,
        "environment": ENVIRONMENT,
        "level": "ERROR",
        "error": {
            "type": type(exc).__name__,
            "message": str(exc),
            "file_path": last.filename if last else "unknown",
            "line_number": (last.lineno or 0) if last else 0,
            "stack_trace": traceback.format_exception(exc),
        },
        "context": context or {},
    }
    if REPO_URL:
        report["repo_url"] = REPO_URL
    return report


def report_error(exc: BaseException, context: dict[str, Any] | None = None) -> None:
    """Send `exc` to Log Center and wait for the answer (at most 3 seconds)."""
    if _first_sight(exc):
        _send(build_report(exc, context))


def report_error_in_background(
    exc: BaseException, context: dict[str, Any] | None = None
) -> threading.Thread | None:
    """Send `exc` from a thread of its own, so a request is never slowed down by reporting;
    the thread, or None when `exc` was reported already."""
    if not _first_sight(exc):
        return None
    report = build_report(exc, context)
    thread = threading.Thread(target=_send, args=(report,), name="log-center", daemon=True)
    thread.start()
    return thread


def _first_sight(exc: BaseException) -> bool:
    """True the first time `exc` is reported: an exception that two hooks see (a middleware and
    an exception handler) is sent once."""
    if getattr(exc, "_log_center_reported", False):
        return False
    with contextlib.suppress(AttributeError):  # some extension types take no attributes
        exc._log_center_reported = True  # type: ignore[attr-defined]
    return True


def _send(report: dict[str, Any]) -> None:
    headers = {"Content-Type": "application/json"}
    if INGEST_KEY:
        headers["X-LogCenter-Key"] = INGEST_KEY
    try:
        body = json.dumps(report, default=str)
        requests.post(f"{LOG_CENTER_URL}/api/v1/logs/report", data=body, headers=headers, timeout=3)
    except Exception:
        pass  # reporting must never break the program it reports on
