"""Fingerprints: hex MD5 of `|`-joined parts, per source, exactly as the integration guide says;
or of the client's own `fingerprint` list, where `{{ default }}` stands for the guide's."""

from __future__ import annotations

import hashlib
import re

from ingest.report import ReportIn

#: For cicd and deployment reports, the context keys that name where it failed (a report's
#: top-level names are already in its context: see `ingest.report.PLACE_NAMES`).
_CONTEXT_PARTS = {
    "cicd": ("job_name", "step_name"),
    "deployment": ("namespace", "deployment_name"),
}


#: In a client's fingerprint, the element that stands for the default one (Sentry's syntax).
DEFAULT_VARIABLE = re.compile(r"\{\{\s*default\s*\}\}")


def fingerprint(report: ReportIn) -> str:
    """The client's own fingerprint when it sends one, else the default formula."""
    if not report.fingerprint:
        return default_fingerprint(report)
    parts = [
        default_fingerprint(report) if DEFAULT_VARIABLE.fullmatch(part.strip()) else part
        for part in report.fingerprint
    ]
    # Marked, so that a client's list does not meet the default formula's parts by chance.
    return _md5([report.project_id, "fingerprint", *parts])


def default_fingerprint(report: ReportIn) -> str:
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
    return _md5(parts)


def _md5(parts: list[str]) -> str:
    return hashlib.md5("|".join(parts).encode("utf-8")).hexdigest()
