"""Fingerprints: hex MD5 of `|`-joined parts, per source, exactly as the integration guide says."""

from __future__ import annotations

import hashlib
from typing import Any

from ingest.report import ReportIn


def _context_str(context: dict[str, Any] | None, key: str) -> str:
    value = (context or {}).get(key)
    return "" if value is None else str(value)


def fingerprint(report: ReportIn) -> str:
    err = report.error
    if report.source == "cicd":
        parts = [
            report.project_id,
            "cicd",
            err.type,
            _context_str(report.context, "job_name"),
            _context_str(report.context, "step_name"),
        ]
    elif report.source == "deployment":
        parts = [
            report.project_id,
            "deployment",
            err.type,
            _context_str(report.context, "namespace"),
            _context_str(report.context, "deployment_name"),
        ]
    else:
        parts = [report.project_id, err.type, err.file_path or "", str(err.line_number)]
    return hashlib.md5("|".join(parts).encode("utf-8")).hexdigest()
