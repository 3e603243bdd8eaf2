"""A Discover view as plain functions: its filter pills, auto-refresh and range as the URL holds
them, the query the pills add up to, and the same view as a saved search or an export.

The URL is the view's one serialized form (`?q=..&filter=-level:ERROR&refresh=10s&columns=..`):
a share link, a saved search and the back button all go through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from dashboards import documents, logic

#: Auto-refresh choices: key -> milliseconds (0 = off).
REFRESH = {"off": 0, "10s": 10_000, "1m": 60_000}
#: Fields a pill may filter on: the indexed ones whose top values the sidebar shows.
PILL_FIELDS = logic.DISCOVER_FIELDS
#: What a pill's buttons do.
PILL_ACTIONS = ("negate", "disable", "remove")
#: Export formats the download buttons offer.
FORMATS = ("csv", "ndjson")

Pill = dict[str, Any]


def pill(field: str, value: str, *, negated: bool = False, disabled: bool = False) -> Pill:
    return {"field": field, "value": value, "negated": negated, "disabled": disabled}


def pill_param(p: Mapping[str, Any]) -> str:
    """A pill as the URL holds it: `field:value`, `-` first when negated, `!` when disabled."""
    flags = ("!" if p.get("disabled") else "") + ("-" if p.get("negated") else "")
    return f"{flags}{p['field']}:{p['value']}"


def parse_pill(raw: str) -> Pill | None:
    """The pill a URL's `filter` value names, None when it names no known field."""
    disabled = raw.startswith("!")
    raw = raw[1:] if disabled else raw
    negated = raw.startswith("-")
    raw = raw[1:] if negated else raw
    field, sep, value = raw.partition(":")
    if not sep or field not in PILL_FIELDS:
        return None
    return pill(field, value, negated=negated, disabled=disabled)


def pills(raw: Iterable[Mapping[str, Any]] | None) -> list[Pill]:
    """Valid pills of `raw` (a saved search's or the page state's), each field:value once."""
    out: list[Pill] = []
    for p in raw or []:
        field, value = str(p.get("field", "")), str(p.get("value", ""))
        if field in PILL_FIELDS and not any(_same(o, field, value) for o in out):
            out.append(
                pill(field, value, negated=bool(p.get("negated")), disabled=bool(p.get("disabled")))
            )
    return out


def _same(p: Mapping[str, Any], field: str, value: str) -> bool:
    return bool(p["field"] == field and p["value"] == value)


def add_pill(current: Iterable[Mapping[str, Any]] | None, field: str, value: str) -> list[Pill]:
    """`field:value` added as a pill; one already there is applied again (not negated)."""
    out = pills(current)
    for p in out:
        if _same(p, field, value):
            p.update(negated=False, disabled=False)
            return out
    return [*out, pill(field, value)]


def act_on_pill(current: Iterable[Mapping[str, Any]] | None, index: int, action: str) -> list[Pill]:
    """The pills after one of a pill's buttons: negate and disable toggle, remove drops it."""
    out = pills(current)
    if not 0 <= index < len(out):
        return out
    if action == "remove":
        return out[:index] + out[index + 1 :]
    if action in ("negate", "disable"):
        key = "negated" if action == "negate" else "disabled"
        out[index][key] = not out[index][key]
    return out


def query(state: Mapping[str, Any]) -> str:
    """The query box AND every pill that is not disabled (negated ones as NOT)."""
    q = str(state.get("q") or "").strip()
    clauses = [f"({q})" if " OR " in f" {q.upper()} " else q] if q else []
    for p in pills(state.get("pills")):
        if p["disabled"]:
            continue
        clause = logic.add_query_filter("", p["field"], p["value"])
        clauses.append(f"NOT {clause}" if p["negated"] else clause)
    return " AND ".join(clauses)


def share(count: int, total: int) -> dict[str, str]:
    """A top value's count out of the hits it was counted over: `count`, `total` with
    thousands separators and `pct` ("4.2%"; "<0.1%" for a sliver, never a misleading 0)."""
    pct = 100 * count / total if total else 0.0
    text = "<0.1%" if 0 < pct < 0.1 else f"{pct:.1f}%"
    return {"count": f"{count:,}", "total": f"{total:,}", "pct": text}


def applied(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state as the searches see it: `q` is the query with its pills (documents.py's
    request bodies and cursor keys read nothing else)."""
    return {**state, "q": query(state)}


def state(params: Mapping[str, Any]) -> dict[str, Any]:
    """The Discover state a URL's query parameters describe (logic.discover_state's query and
    range, plus pills and auto-refresh)."""
    out = logic.discover_state(params)
    raw = params.get("filter")
    raw_list = [raw] if isinstance(raw, str) else list(raw or [])
    out["pills"] = pills(p for p in map(parse_pill, raw_list) if p)
    refresh = params.get("refresh")
    refresh = refresh[0] if isinstance(refresh, list) and refresh else refresh
    out["refresh"] = refresh if refresh in REFRESH else "off"
    return out


def search(state: Mapping[str, Any], chosen: Any) -> str:
    """The URL query string of a view: state and chosen columns ("" = every default)."""
    pairs: list[tuple[str, str]] = []
    base = logic.discover_search(state)
    pairs += [("filter", pill_param(p)) for p in pills(state.get("pills"))]
    if state.get("refresh") in REFRESH and state["refresh"] != "off":
        pairs.append(("refresh", state["refresh"]))
    param = documents.columns_param(documents.columns(chosen))
    if param is not None:
        pairs.append(("columns", param))
    if not pairs:
        return base
    return f"{base}&{urlencode(pairs)}" if base else f"?{urlencode(pairs)}"


def refresh_ms(state: Mapping[str, Any]) -> int:
    return REFRESH.get(str(state.get("refresh")), 0)


def saved_body(name: str, state: Mapping[str, Any], chosen: Any) -> dict[str, Any]:
    """The POST /api/v1/searches body that keeps this view under `name`."""
    body: dict[str, Any] = {
        "name": name.strip(),
        "q": state.get("q") or "",
        "filters": pills(state.get("pills")),
        "columns": documents.columns(chosen),
        "range": "",
    }
    quick = state.get("quick") or logic.DEFAULT_QUICK
    if quick in logic.QUICK_RANGES:
        body["range"] = quick
    else:
        body.update(start=state.get("from"), end=state.get("to"))
    return body


def saved_search(saved: Mapping[str, Any]) -> str:
    """The URL query string that opens a saved search as it was kept."""
    params: dict[str, Any] = {"q": saved.get("q") or ""}
    if saved.get("range") in logic.QUICK_RANGES:
        params["range"] = saved["range"]
    else:
        params.update({"from": saved.get("start") or "", "to": saved.get("end") or ""})
    restored = state(params)
    restored["pills"] = pills(saved.get("filters"))
    return search(restored, saved.get("columns")) or "?"


def export_href(state: Mapping[str, Any], fmt: str) -> str:
    """The dashboard's download link for this search (dashboards/download.py streams it). A
    relative range stays relative (`range=24h`): the window is fixed when the link is followed,
    not when the page drew it."""
    pairs = [("q", query(state))]
    quick = state.get("quick") or logic.DEFAULT_QUICK
    if quick in logic.QUICK_RANGES:
        pairs.append(("range", quick))
    else:
        pairs += [("from", state.get("from") or ""), ("to", state.get("to") or "")]
    return f"/download/events.{fmt}?{urlencode([(k, v) for k, v in pairs if v])}"


def export_window(args: Mapping[str, str], now: datetime) -> dict[str, str]:
    """A download link's range as the export endpoint takes it (`from`, `to`)."""
    quick = args.get("range")
    if quick in logic.QUICK_RANGES:
        start, end = logic.time_range({"quick": quick}, now)
        return {"from": logic.iso(start), "to": logic.iso(end)}
    return {k: args[k] for k in ("from", "to") if args.get(k)}


def bugs_export_href(f: logic.BugFilters, fmt: str) -> str:
    """The bugs page's download link: its query, filters and sort, every page."""
    pairs = [(k, str(v)) for k, v in logic.bug_api_params(f) if k not in ("page", "size")]
    return f"/download/bugs.{fmt}?{urlencode(pairs)}"
