"""A Sentry event as a report: the same fields the integration guide's clients send.

The main exception is the last of `exception.values` (Sentry lists a chain oldest first); its
file and line are those of its last in-app frame (the last frame when none is marked), and every
frame of the chain becomes a stack line. What the event says about its circumstances (tags,
extra, contexts, user, request) goes into `context`, scrubbed and clamped as reports are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ingest.frames import normalised
from ingest.report import EARLIEST, LATEST, ErrorIn, ReportIn

#: Where an event's circumstances go, under the same names in `context`.
_CONTEXT_FIELDS = ("extra", "contexts", "user", "request", "logger", "server_name", "transaction")


def event_report(event: dict[str, Any], project_id: str) -> ReportIn:
    """The report of one event of `project_id` (pydantic's ValidationError if it cannot be)."""
    chain = _exceptions(event)
    if chain:
        main = chain[-1]
        error_type = _text(main.get("type")) or "Error"
        message = _text(main.get("value"))
        frames = _frames(main.get("stacktrace"))
    else:
        error_type = "Message"
        message = _message(event)
        frames = _frames(event.get("stacktrace")) or _thread_frames(event.get("threads"))
    where = _culprit(frames)
    report = ReportIn(
        project_id=project_id,
        environment=_text(event.get("environment"))[:200] or "production",
        level=_text(event.get("level"))[:32] or "error",
        timestamp=_timestamp(event.get("timestamp")),
        version=_text(event.get("release"))[:200] or None,
        error=ErrorIn(
            type=error_type[:512],
            message=message,
            file_path=None if where is None else _frame_file(where)[:4096],
            line_number=None if where is None else _line_number(where),
            stack_trace=_stack_lines(chain, frames),
        ),
        context=_context(event),
        fingerprint=_fingerprint(event.get("fingerprint")),
    )
    chain_frames = [f for exc in chain for f in _frames(exc.get("stacktrace"))] or frames
    in_app = [f for f in chain_frames if f.get("in_app") is True]
    if in_app:
        report._app_frames = [
            (normalised(_frame_file(f)), _text(f.get("function"))) for f in in_app
        ]
    return report


def _exceptions(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = event.get("exception")
    values = found.get("values") if isinstance(found, dict) else found
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _frames(stacktrace: Any) -> list[dict[str, Any]]:
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [f for f in frames if isinstance(f, dict)] if isinstance(frames, list) else []


def _thread_frames(threads: Any) -> list[dict[str, Any]]:
    values = threads.get("values") if isinstance(threads, dict) else threads
    for thread in values if isinstance(values, list) else []:
        if isinstance(thread, dict) and (frames := _frames(thread.get("stacktrace"))):
            return frames
    return []


def _culprit(frames: list[dict[str, Any]]) -> dict[str, Any] | None:
    in_app = [f for f in frames if f.get("in_app") is True] or frames
    return in_app[-1] if in_app else None


def _frame_file(frame: dict[str, Any]) -> str:
    for name in ("filename", "abs_path", "module"):
        if value := _text(frame.get(name)):
            return value
    return "<unknown>"


def _line_number(frame: dict[str, Any]) -> int | None:
    line = frame.get("lineno")
    return line if isinstance(line, int) and 0 <= line < 2**31 else None


def _stack_lines(chain: list[dict[str, Any]], frames: list[dict[str, Any]]) -> list[str]:
    """A traceback: each exception of the chain (oldest first) with its frames above it."""
    lines: list[str] = []
    for exc in chain:
        lines += _frame_lines(_frames(exc.get("stacktrace")))
        value = _text(exc.get("value"))
        lines.append(f"{_text(exc.get('type')) or 'Error'}: {value}" if value else "")
    if not chain:
        lines += _frame_lines(frames)
    return [line for line in lines if line]


def _frame_lines(frames: list[dict[str, Any]]) -> list[str]:
    lines = []
    for frame in frames:
        line = _line_number(frame)
        function = _text(frame.get("function")) or "?"
        lines.append(f'  File "{_frame_file(frame)}", line {line or "?"}, in {function}')
        if code := _text(frame.get("context_line")).strip():
            lines.append(f"    {code}")
    return lines


def _message(event: dict[str, Any]) -> str:
    entry = event.get("logentry") or event.get("message")
    if isinstance(entry, dict):
        return _text(entry.get("formatted")) or _text(entry.get("message"))
    return _text(entry)


def _timestamp(value: Any) -> datetime | None:
    """Sentry sends seconds since the epoch or ISO 8601; anything else is server time."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            when = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str):
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return when if EARLIEST <= when < LATEST else None


def _context(event: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {
        name: event[name] for name in _CONTEXT_FIELDS if event.get(name) not in (None, "", {}, [])
    }
    tags = _tags(event.get("tags"))
    if tags:
        context["tags"] = tags
    request = event.get("request")
    if isinstance(request, dict) and isinstance(request.get("url"), str):
        context["url"] = request["url"]
    if isinstance(event.get("event_id"), str):
        context["event_id"] = event["event_id"]
    return context


def _tags(tags: Any) -> dict[str, Any]:
    """Tags as a dict, from a dict or from a list of [key, value] pairs."""
    if isinstance(tags, dict):
        return tags
    if isinstance(tags, list):
        return {
            str(pair[0]): pair[1]
            for pair in tags
            if isinstance(pair, list | tuple) and len(pair) == 2
        }
    return {}


def _fingerprint(value: Any) -> list[str] | None:
    """The SDK's own grouping (`fingerprint`: strings, numbers allowed), as a report's."""
    if not isinstance(value, list) or not value:
        return None
    parts = [str(part)[:500] for part in value if isinstance(part, str | int | float)]
    return parts[:20] or None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
