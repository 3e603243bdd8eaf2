"""The dashboard's decisions as plain functions: URL <-> filters, facet toggling, status colours,
legal moves, diff colouring, histogram zoom and time ranges.

Callbacks stay thin wrappers around these so the behaviour is testable without a browser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from store.vocabulary import (
    DEFAULT_BUG_SORT,
    FACET_FIELDS,
    PROJECT_GRID_EDITABLE,
    PROJECT_REQUIRED,
    REGRESSION_STATUSES,
    REPAIR_STEPS,
    SIGNED_BUG_SORTS,
)

PAGE_SIZE = 50

#: Discover quick ranges: key -> width.
QUICK_RANGES = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_QUICK = "24h"
#: Fields shown in the Discover sidebar (top values from the events facets).
DISCOVER_FIELDS = (
    "project_id",
    "level",
    "environment",
    "error_type",
    "source",
    "version",
    "file_path",
)
#: Event fields listed when a document is opened (Discover, bug detail).
EVENT_FIELDS = (
    "timestamp",
    "bug_id",
    "project_id",
    "environment",
    "level",
    "source",
    "version",
    "commit_hash",
    "error_type",
    "message",
    "file_path",
    "line_number",
)
#: A repair counts as running this long after it was enqueued, until a new report arrives.
REPAIR_WAIT = timedelta(minutes=15)


# --- statuses ---------------------------------------------------------------------------------


def status_class(status: str | None) -> str:
    """CSS classes for a status badge; colours live in assets/style.css (`.status-fix-failed`)."""
    name = (status or "unknown").lower().replace("_", "-")
    return f"status status-{name}"


def allowed_moves(transitions: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """Buttons for the legal next statuses: (status, needs a reason)."""
    return [(s, s == "FIX_FAILED") for s in transitions.get("allowed", [])]


def validate_move(target: str, reason: str | None) -> str | None:
    """The i18n key of the problem with a move, or None when it may be sent."""
    if target == "FIX_FAILED" and not (reason or "").strip():
        return "reason_required"
    return None


def fixed_version_of(target: str, typed: str | None) -> str | None:
    """The fixed version a move sends: what was typed, on a move that marks the bug fixed (the
    API refuses it on any other); None lets the API record the newest release seen."""
    if target not in REGRESSION_STATUSES:
        return None
    return (typed or "").strip() or None


def is_regression(change: Mapping[str, Any]) -> bool:
    """A status-history entry that reopened a fixed bug because it occurred again (written by
    ingestion, not by a person reopening it)."""
    if change.get("to") != "NEW" or change.get("from") not in REGRESSION_STATUSES:
        return False
    reason = (change.get("reason") or "").lower()
    return "regression" in reason or change.get("by") in ("ingest", "indexer")


# --- bugs list: URL <-> filters ------------------------------------------------------------


@dataclass(frozen=True)
class BugFilters:
    """What the bugs page shows; the URL query string is its serialized form."""

    q: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sort: str = DEFAULT_BUG_SORT
    page: int = 1

    def to_store(self) -> dict[str, Any]:
        return {
            "q": self.q,
            "filters": {k: list(v) for k, v in self.filters.items()},
            "sort": self.sort,
            "page": self.page,
        }

    @classmethod
    def from_store(cls, data: Mapping[str, Any] | None) -> BugFilters:
        data = data or {}
        return cls(
            q=data.get("q", ""),
            filters=_clean_filters(data.get("filters", {})),
            sort=data.get("sort", DEFAULT_BUG_SORT),
            page=int(data.get("page", 1)),
        )


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _clean_filters(raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name in FACET_FIELDS:
        values = tuple(dict.fromkeys(v for v in _as_list(raw.get(name)) if v))
        if values:
            out[name] = values
    return out


def filters_from_params(params: Mapping[str, Any]) -> BugFilters:
    """Parse the query parameters Dash pages hands a layout (a str, or a list when repeated)."""
    q = _as_list(params.get("q"))
    sort = _as_list(params.get("sort"))
    page = _as_list(params.get("page"))
    try:
        page_no = max(1, int(page[0])) if page else 1
    except ValueError:
        page_no = 1
    return BugFilters(
        q=q[0].strip() if q else "",
        filters=_clean_filters(params),
        sort=sort[0] if sort and sort[0] in SIGNED_BUG_SORTS else DEFAULT_BUG_SORT,
        page=page_no,
    )


def filters_to_search(f: BugFilters) -> str:
    """`?q=...&status=NEW&status=FIXED`, defaults left out so URLs stay short ("" = all default)."""
    pairs: list[tuple[str, str]] = []
    if f.q:
        pairs.append(("q", f.q))
    for name in FACET_FIELDS:
        pairs += [(name, v) for v in f.filters.get(name, ())]
    if f.sort != DEFAULT_BUG_SORT:
        pairs.append(("sort", f.sort))
    if f.page > 1:
        pairs.append(("page", str(f.page)))
    return "?" + urlencode(pairs) if pairs else ""


def bug_api_params(f: BugFilters, size: int = PAGE_SIZE) -> list[tuple[str, str | int]]:
    """Query parameters for GET /api/v1/bugs."""
    params: list[tuple[str, str | int]] = [("sort", f.sort), ("page", f.page), ("size", size)]
    if f.q:
        params.append(("q", f.q))
    for name in FACET_FIELDS:
        params += [(name, v) for v in f.filters.get(name, ())]
    return params


def toggle_value(selected: Iterable[str], value: str) -> tuple[str, ...]:
    """Add `value` to a multi-select, or remove it when already there; order is kept."""
    current = tuple(selected)
    if value in current:
        return tuple(v for v in current if v != value)
    return (*current, value)


def toggle_filter(f: BugFilters, name: str, value: str) -> BugFilters:
    """Select or deselect one facet value; any change of the result set goes back to page 1."""
    filters = dict(f.filters)
    values = toggle_value(filters.get(name, ()), value)
    if values:
        filters[name] = values
    else:
        filters.pop(name, None)
    return replace(f, filters=filters, page=1)


def facet_entries(
    counts: Iterable[Mapping[str, Any]], selected: Iterable[str]
) -> list[tuple[str, int, bool]]:
    """(value, count, selected) rows for a facet panel; selected values missing from the counts
    stay listed with 0 so they can be deselected."""
    chosen = list(selected)
    rows = [(str(c["value"]), int(c["count"]), str(c["value"]) in chosen) for c in counts]
    seen = {r[0] for r in rows}
    rows += [(v, 0, True) for v in chosen if v not in seen]
    return rows


def picked_bugs(values: Iterable[Iterable[int] | None]) -> list[int]:
    """The bug ids ticked on the bugs page (each row's checklist holds its id or nothing)."""
    return sorted({int(bug_id) for value in values for bug_id in (value or ())})


def merge_choice(picked: list[int], target: int | None) -> tuple[int | None, list[int]]:
    """(the target, the bugs to merge into it) of a selection; (None, []) when it is no merge:
    fewer than two bugs, or a target that is not among them."""
    if len(picked) < 2 or target not in picked:
        return None, []
    return target, [bug_id for bug_id in picked if bug_id != target]


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


def turn_page(f: BugFilters, step: int, pages: int | None = None) -> BugFilters:
    """Step `step` pages, staying within 1..pages (pages None = no upper bound known)."""
    page = max(1, f.page + step)
    return replace(f, page=min(page, pages) if pages else page)


# --- bug detail ------------------------------------------------------------------------------


def context_rows(context: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Context as key/value rows; nested objects flatten to dotted keys."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        elif isinstance(value, list):
            rows.append((prefix, ", ".join(map(str, value))))
        else:
            rows.append((prefix, "" if value is None else str(value)))

    for key, value in (context or {}).items():
        walk(str(key), value)
    return rows


def diff_lines(diff: str | None) -> list[tuple[str, str]]:
    """A unified diff as (css class, line) pairs for syntax colouring."""
    out: list[tuple[str, str]] = []
    for line in (diff or "").splitlines():
        if line.startswith(("+++", "---", "diff ", "index ", "new file", "deleted file")):
            kind = "diff-file"
        elif line.startswith("@@"):
            kind = "diff-hunk"
        elif line.startswith("+"):
            kind = "diff-add"
        elif line.startswith("-"):
            kind = "diff-del"
        else:
            kind = "diff-ctx"
        out.append((kind, line))
    return out


def timeline(reports: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Repair reports in the order they happened (oldest round first)."""
    return sorted(
        reports, key=lambda r: (r.get("created_at") or "", r.get("round") or 0, r.get("id") or 0)
    )


def repair_in_progress(
    status: str | None, pending: Mapping[str, Any] | None, n_reports: int, now: datetime
) -> bool:
    """Poll for new repair rounds while the bug is FIXING, or shortly after a Repair click until
    a new report shows up and the job has left the statuses it passes through on its way."""
    if status == "FIXING":
        return True
    if not pending:
        return False
    since = parse_time(pending.get("at"))
    if since is None or now - since > REPAIR_WAIT:
        return False
    return status in REPAIR_STEPS or n_reports <= int(pending.get("reports", 0))


# --- times and Discover ----------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    """ISO 8601 (or Plotly's `YYYY-MM-DD HH:MM:SS.ffff`) to an aware UTC datetime; naive = UTC."""
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def short_time(value: str | None) -> str:
    """`2026-11-28 10:15:03` (UTC) for tables."""
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def time_range(state: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """The Discover range: a quick range ending now, or the absolute `from`/`to` of a zoom."""
    quick = state.get("quick")
    if quick in QUICK_RANGES:
        return now - QUICK_RANGES[quick], now
    start = parse_time(state.get("from"))
    end = parse_time(state.get("to")) or now
    if start is None or start >= end:
        start = end - QUICK_RANGES[DEFAULT_QUICK]
    return start, end


def discover_state(params: Mapping[str, Any]) -> dict[str, Any]:
    """The Discover state a URL's query parameters (`q`, `range`, `from`, `to`) describe."""
    q = _as_list(params.get("q"))
    quick = _as_list(params.get("range"))
    start = _as_list(params.get("from"))
    end = _as_list(params.get("to"))
    state: dict[str, Any] = {"q": q[0].strip() if q else "", "quick": DEFAULT_QUICK}
    if start or end:
        low = parse_time(start[0] if start else None)
        high = parse_time(end[0] if end else None)
        state.update(quick="custom", **{"from": low and iso(low), "to": high and iso(high)})
    elif quick and quick[0] in QUICK_RANGES:
        state["quick"] = quick[0]
    return state


def discover_search(state: Mapping[str, Any]) -> str:
    """The URL query string of a Discover state (defaults left out; "" = all default)."""
    pairs: list[tuple[str, str]] = []
    if state.get("q"):
        pairs.append(("q", state["q"]))
    quick = state.get("quick") or DEFAULT_QUICK
    if quick in QUICK_RANGES:
        if quick != DEFAULT_QUICK:
            pairs.append(("range", quick))
    else:
        pairs += [(k, state[k]) for k in ("from", "to") if state.get(k)]
    return "?" + urlencode(pairs) if pairs else ""


def zoom_range(relayout: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """A click-drag zoom on the histogram (`xaxis.range[0]`/`[1]`) as an ISO range, else None."""
    if not relayout:
        return None
    low = relayout.get("xaxis.range[0]")
    high = relayout.get("xaxis.range[1]")
    if low is None and isinstance(relayout.get("xaxis.range"), list | tuple):
        low, high = relayout["xaxis.range"][:2]
    start, end = parse_time(low), parse_time(high)
    if start is None or end is None or start >= end:
        return None
    return iso(start), iso(end)


def histogram_points(histogram: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[int]]:
    """Bucket keys as naive UTC strings (Plotly shows them as given and zooms in the same frame)."""
    xs: list[str] = []
    ys: list[int] = []
    for bucket in histogram:
        moment = parse_time(bucket.get("key"))
        if moment is not None:
            xs.append(moment.strftime("%Y-%m-%d %H:%M:%S"))
            ys.append(int(bucket.get("count", 0)))
    return xs, ys


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def interval_seconds(label: str | None) -> int | None:
    """The width of an API histogram interval ("15m", "3h", "30d", "8700s"); None if unknown."""
    text = str(label or "")
    if len(text) < 2 or text[-1] not in _UNIT_SECONDS or not text[:-1].isdigit():
        return None
    return int(text[:-1]) * _UNIT_SECONDS[text[-1]]


def filled_points(
    histogram: Iterable[Mapping[str, Any]], interval: str | None
) -> tuple[list[str], list[int]]:
    """histogram_points with the empty buckets between the first and the last put back (the
    API leaves them out), so bars drawn side by side keep time to scale."""
    xs, ys = histogram_points(histogram)
    width = interval_seconds(interval)
    if not xs or width is None:
        return xs, ys
    counts = dict(zip(xs, ys, strict=True))
    first, last = (datetime.fromisoformat(x) for x in (xs[0], xs[-1]))
    steps = min(int((last - first).total_seconds()) // width, 10_000)
    moments = (first + timedelta(seconds=width * i) for i in range(steps + 1))
    keys = [m.strftime("%Y-%m-%d %H:%M:%S") for m in moments]
    return keys, [counts.get(k, 0) for k in keys]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_query_filter(q: str, name: str, value: str) -> str:
    """Append `name:"value"` to a Lucene query (AND), unless the clause is already there."""
    clause = f"{name}:{_quote(value)}"
    q = (q or "").strip()
    if clause in q:
        return q
    if not q:
        return clause
    if " OR " in f" {q.upper()} ":
        q = f"({q})"
    return f"{q} AND {clause}"


def discover_body(state: Mapping[str, Any], now: datetime, size: int = 100) -> dict[str, Any]:
    """The POST /api/v1/events/search body for a Discover state."""
    start, end = time_range(state, now)
    return {
        "q": state.get("q", ""),
        "from": iso(start),
        "to": iso(end),
        "interval": "auto",
        "facets": list(DISCOVER_FIELDS),
        "size": size,
        "sort": "-timestamp",
    }


def bug_window(bug: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A bug's life as its page searches it: from a minute before its first occurrence to a
    minute after its last (ISO), whatever the time now."""
    start = parse_time(bug.get("first_seen")) or now - QUICK_RANGES["30d"]
    end = max(parse_time(bug.get("last_seen")) or now, start)
    return {
        "id": int(bug["id"]),
        "from": iso(start - timedelta(minutes=1)),
        "to": iso(end + timedelta(minutes=1)),
    }


def bug_chart_body(window: Mapping[str, Any]) -> dict[str, Any]:
    """Events search for a bug's occurrences chart: buckets alone, over the bug's life, so the
    interval ("auto") follows its first and last seen and the chart gets at most ~60 bars."""
    return {
        "q": f"bug_id:{int(window['id'])}",
        "from": window["from"],
        "to": window["to"],
        "interval": "auto",
        "facets": [],
        "size": 0,
    }


def bug_seen_body(window: Mapping[str, Any]) -> dict[str, Any]:
    """Events search for the environments and versions a bug was seen in."""
    return {**bug_chart_body(window), "interval": "none", "facets": ["environment", "version"]}


def bug_docs_state(window: Mapping[str, Any]) -> dict[str, Any]:
    """The search the bug's occurrences table lists (a Discover state: its query and range)."""
    return {
        "q": f"bug_id:{int(window['id'])}",
        "quick": "custom",
        "from": window["from"],
        "to": window["to"],
    }


# --- projects --------------------------------------------------------------------------------


#: The grid's choices for a project's auto_repair: follow the install's setting, on, off.
AUTO_REPAIR_CHOICES = ("default", "on", "off")


def auto_repair_choice(value: bool | None) -> str:
    """A project's auto_repair as the grid shows it (None: "default")."""
    return "default" if value is None else "on" if value else "off"


def auto_repair_value(choice: Any) -> bool | None:
    """The grid's choice (or a plain boolean) as the API takes it: None follows the default."""
    if choice in (True, "on"):
        return True
    if choice in (False, "off"):
        return False
    return None


def retention_value(value: Any) -> int | str | None:
    """A retention cell as the API takes it: empty resets (null, the install's default), a
    whole number goes as a number, anything else as typed (the API says why it refuses it)."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else text


def project_row(project: Mapping[str, Any]) -> dict[str, Any]:
    """A projects grid row: the project's fields, auto_repair as a choice, and the toolchain a
    worker last reported flattened into columns. `toolchain_state` is "" (never reported),
    "ok" or "none" (a worker looked and recognised no toolchain)."""
    found = project.get("toolchain") or {}
    named = [str(v) for v in (found.get("language"), found.get("name")) if v]
    state = "" if not found else "ok" if found.get("name") else "none"
    return {
        **{k: v for k, v in project.items() if k != "toolchain"},
        "auto_repair": auto_repair_choice(project.get("auto_repair")),
        "toolchain": " · ".join(dict.fromkeys(named)),
        "toolchain_state": state,
        "toolchain_test_command": found.get("test_command") or "",
        "toolchain_missing": ", ".join(found.get("missing") or []),
        "toolchain_problem": found.get("problem") or "",
    }


def project_change(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """One dash-ag-grid `cellValueChanged` entry -> (project_id, PUT body), None if not editable.

    dash-ag-grid delivers the new value under `value` (its docs say `newValue`)."""
    column = event.get("colId")
    data = event.get("data") or {}
    project_id = data.get("project_id") or event.get("rowId")
    if column not in PROJECT_GRID_EDITABLE or not project_id:
        return None
    value = event.get("value", event.get("newValue", data.get(column)))
    if column == "auto_repair":
        value = auto_repair_value(value)
    elif column == "retention_days":
        value = retention_value(value)
    elif value is None:
        value = ""
    return str(project_id), {column: value}


def ready_workers(status: Mapping[str, Any]) -> int:
    """RQ workers of the pools that can repair on their own (LLM and sandbox), from
    GET /api/v1/repairs/status."""
    return sum(
        int(w.get("workers") or 0)
        for w in status.get("workers") or []
        if (w.get("llm") or {}).get("ok") and (w.get("sandbox") or {}).get("ok")
    )


def missing_config(project: Mapping[str, Any]) -> list[str]:
    """Required project fields that are not set (shown red)."""
    return [name for name in PROJECT_REQUIRED if not (project.get(name) or "").strip()]


def truncate(text: str | None, limit: int = 160) -> str:
    text = (text or "").strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
