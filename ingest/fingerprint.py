"""Fingerprints: hex MD5 of `|`-joined parts, per source, exactly as the integration guide says;
or of the client's own `fingerprint` list, where `{{ default }}` stands for the guide's."""

from __future__ import annotations

import hashlib
import re

from ingest.frames import app_frames
from ingest.report import ReportIn
from store.vocabulary import DEFAULT_GROUPING

#: For cicd and deployment reports, the context keys that name where it failed (a report's
#: top-level names are already in its context: see `ingest.report.PLACE_NAMES`).
_CONTEXT_PARTS = {
    "cicd": ("job_name", "step_name"),
    "deployment": ("namespace", "deployment_name"),
}


#: In a client's fingerprint, the element that stands for the default one (Sentry's syntax).
DEFAULT_VARIABLE = re.compile(r"\{\{\s*default\s*\}\}")


def fingerprint(report: ReportIn, grouping: str = DEFAULT_GROUPING) -> str:
    """The client's own fingerprint when it sends one, else the project's grouping's."""
    default = stack_fingerprint if grouping == "stack" else default_fingerprint
    if not report.fingerprint:
        return default(report)
    parts = [
        default(report) if DEFAULT_VARIABLE.fullmatch(part.strip()) else part
        for part in report.fingerprint
    ]
    # Marked, so that a client's list does not meet the default formula's parts by chance.
    return _md5([report.project_id, "fingerprint", *parts])


def stack_fingerprint(report: ReportIn) -> str:
    """Grouping `stack`: the error type and the application's frames (file and function, no
    line numbers), so a bug survives edits above it; the message where there is no stack.
    CI/CD and deployment reports keep their formulas: they name a place, not code."""
    if report.source in _CONTEXT_PARTS:
        return default_fingerprint(report)
    stack = report.error.stack_trace
    frames = report._app_frames or app_frames(stack if isinstance(stack, list) else [stack])
    where = [f"{file}:{function}" for file, function in frames] or [report.error.message]
    return _md5([report.project_id, "stack", report.error.type, *where])


def default_fingerprint(report: ReportIn) -> str:
    """The integration guide's formulas (grouping `line`)."""
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
