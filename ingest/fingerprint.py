"""Fingerprints: hex MD5 of `|`-joined parts, per source, exactly as the integration guide says."""

from __future__ import annotations

import hashlib

from ingest.report import ReportIn

#: For cicd and deployment reports, the context keys that name where it failed (a report's
#: top-level names are already in its context: see `ingest.report.PLACE_NAMES`).
_CONTEXT_PARTS = {
    "cicd": ("job_name", "step_name"),
    "deployment": ("namespace", "deployment_name"),
}


def fingerprint(report: ReportIn) -> str:
    err = report.error
    if report.source in _CONTEXT_PARTS:
        context = report.context or {}
        names = [context.get(key) for key in _CONTEXT_PARTS[report.source]]
        parts = [
            report.project_id,
            report.source,
            err.type,
            *("" if n is None else str(n) for n in names),
        ]
    else:
        parts = [report.project_id, err.type, err.file_path or "", str(err.line_number)]
    return hashlib.md5("|".join(parts).encode("utf-8")).hexdigest()
