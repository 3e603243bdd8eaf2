"""The document table of Discover and of a bug's page: which columns it shows (and how the URL
holds them), the small rows the grid receives, the API requests that fill it block by block,
the cursors that carry it from one block to the next, and the whole occurrence a row opens.

Plain functions first; then the grid component, the body of the callback that answers its
blocks, and the callback that opens a clicked row, so the pages share one table."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import dash_ag_grid as dag
from dash import ALL, Input, Output, State, callback, ctx, html

from dashboards import api, ids, logic
from dashboards.components import attempt, error_box, kv_table
from dashboards.i18n import lang_of, t

#: The columns shown until someone chooses others.
DEFAULT_COLUMNS = ("timestamp", "level", "project_id", "error_type", "message")
#: The occurrence's own fields a column can show; `context.<key>` columns show context values.
FIELDS = (*logic.EVENT_FIELDS, "id")
#: What the API sorts occurrences by (newest or oldest first; ties break on the id).
SORTABLE = ("timestamp",)
#: Rows per request: one block of the grid's infinite row model.
BLOCK = 100
#: Characters of a value shown in a cell; the opened document shows it whole.
CELL_LIMIT = 300
_CONTEXT_COLUMN = re.compile(r"^context\.[\w.\-]{1,100}$")
_WIDTHS = {"timestamp": 190, "level": 110, "line_number": 90, "bug_id": 90}


def is_column(name: str) -> bool:
    return name in FIELDS or bool(_CONTEXT_COLUMN.match(name))


def columns(raw: str | Iterable[str] | None) -> list[str]:
    """The valid columns of `raw` ("a,b" from a URL, or a list), in order, each once; the
    defaults when none is left."""
    names = raw.split(",") if isinstance(raw, str) else list(raw or [])
    chosen: list[str] = []
    for name in (n.strip() for n in names):
        if is_column(name) and name not in chosen:
            chosen.append(name)
    return chosen or list(DEFAULT_COLUMNS)


def columns_param(chosen: Iterable[str]) -> str | None:
    """The URL's `columns` value; None for the defaults (left out of the URL)."""
    chosen = list(chosen)
    return None if chosen == list(DEFAULT_COLUMNS) else ",".join(chosen)


def column_defs(chosen: Iterable[str]) -> list[dict[str, Any]]:
    """ag-grid column definitions: sortable where the API can sort, the message filling the
    rest of the width."""
    defs = []
    for name in chosen:
        col: dict[str, Any] = {"field": name, "headerName": name, "sortable": name in SORTABLE}
        if name == "timestamp":
            col["initialSort"] = "desc"
        if name == "message":
            col.update(flex=1, minWidth=240)
        else:
            col["width"] = _WIDTHS.get(name, 160)
        defs.append(col)
    return defs


def column_options(chosen: Iterable[str], context_keys: Iterable[str]) -> list[dict[str, str]]:
    """The chooser's choices: every field, the context keys seen in the hits, and the columns
    shown (a URL may name a context key the current hits lack)."""
    names = [*FIELDS, *sorted(f"context.{k}" for k in context_keys)]
    names += [c for c in chosen if c not in names]
    return [{"label": n, "value": n} for n in names if is_column(n)]


def row(event: Mapping[str, Any]) -> dict[str, Any]:
    """What the grid holds of an occurrence: its fields and flattened context, values cut to
    CELL_LIMIT; the stack trace stays on the server until the document is opened."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = event.get(name)
        if name == "timestamp":
            value = logic.short_time(value)
        out[name] = logic.truncate(value, CELL_LIMIT) if isinstance(value, str) else value
    for key, value in logic.context_rows(event.get("context")):
        out[f"context.{key}"] = logic.truncate(value, CELL_LIMIT)
    return out


def context_keys(items: Iterable[Mapping[str, Any]]) -> set[str]:
    return {key for e in items for key, _ in logic.context_rows(e.get("context"))}


def sort_of(sort_model: list[Mapping[str, Any]] | None) -> str:
    """The API's sort for the grid's sort model (newest first unless time is sorted up)."""
    for item in sort_model or []:
        if item.get("colId") == "timestamp" and item.get("sort") == "asc":
            return "timestamp"
    return "-timestamp"


def summary_body(state: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The search for the total and the histogram (no documents, no field values)."""
    return {**logic.discover_body(state, now), "size": 0, "facets": []}


def fields_body(state: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The search for the sidebar's field values alone: over days of a million occurrences
    they cost seconds, which the hits and the histogram need not wait for."""
    return {**logic.discover_body(state, now), "size": 0, "interval": "none"}


def rows_body(
    state: Mapping[str, Any], now: datetime, request: Mapping[str, Any], paging: Mapping[str, Any]
) -> dict[str, Any]:
    """The search for one block of documents (`request`: the grid's startRow/endRow/sortModel).
    Later blocks of a search keep the first block's time window and follow the cursor the
    previous block left in `paging`, else ask by page number."""
    start = int(request.get("startRow") or 0)
    size = max(1, min(int(request.get("endRow") or start + BLOCK) - start, 500))
    sort = sort_of(request.get("sortModel"))
    body = {
        **logic.discover_body(state, now),
        "facets": [],
        "interval": "none",
        "size": size,
        "sort": sort,
    }
    if not start:
        return body
    if paging.get("key") == paging_key(state, sort):
        body.update({"from": paging["from"], "to": paging["to"]})
        cursor = (paging.get("cursors") or {}).get(str(start))
        if cursor:
            body["cursor"] = cursor
            return body
    body["page"] = start // size + 1
    return body


def paging_key(state: Mapping[str, Any], sort: str) -> str:
    """The search a cursor belongs to: query, range as chosen (a quick range, not its moving
    bounds) and sort."""
    return json.dumps({k: state.get(k) for k in ("q", "quick", "from", "to")} | {"sort": sort})


def next_paging(
    paging: Mapping[str, Any],
    state: Mapping[str, Any],
    body: Mapping[str, Any],
    request: Mapping[str, Any],
    found: int,
    next_cursor: str | None,
) -> dict[str, Any]:
    """`paging` with the cursor to the block after this one; a first block starts afresh and
    fixes the window the later blocks keep."""
    key = paging_key(state, str(body.get("sort")))
    start = int(request.get("startRow") or 0)
    if start and paging.get("key") == key:
        out = {**paging, "cursors": dict(paging.get("cursors") or {})}
    else:
        out = {"key": key, "from": body.get("from"), "to": body.get("to"), "cursors": {}}
    if next_cursor:
        out["cursors"][str(start + found)] = next_cursor
    return out


def row_count(request: Mapping[str, Any], found: int, next_cursor: str | None) -> int:
    """The grid's row count once the last block is in, -1 while more may follow."""
    return int(request.get("startRow") or 0) + found if next_cursor is None else -1


# --- the grid and its callbacks' bodies ------------------------------------------------------


def grid(grid_id: str, chosen: Sequence[str], height: int = 560) -> dag.AgGrid:
    """The virtualised document table: ag-grid's infinite row model asks for each block it is
    about to show (the page's callback answers with `block`)."""
    return dag.AgGrid(
        id=grid_id,
        rowModelType="infinite",
        columnDefs=column_defs(chosen),
        defaultColDef={"resizable": True, "sortable": False},
        getRowId="params.data.id",
        dashGridOptions={
            "cacheBlockSize": BLOCK,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
            # Blocks in order, so each request finds the cursor the previous block left.
            "maxConcurrentDatasourceRequests": 1,
            # `context.user.id` is a column name here, not a path into the row.
            "suppressFieldDotNotation": True,
            "suppressCellFocus": True,
        },
        className="ag-theme-quartz docs-grid",
        style={"height": f"{height}px"},
    )


def block(
    request: Mapping[str, Any], state: Mapping[str, Any], paging: Mapping[str, Any], token: Any
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """One block of the search `state` for the grid's `request`: the grid's answer (small rows,
    no stack traces), the paging that leads to the next block, and the occurrences listed."""
    body = rows_body(state, datetime.now(UTC), request, paging)
    data, _ = attempt(lambda: api.current().search_events(body, token))
    items: list[dict[str, Any]] = (data or {}).get("items", [])
    next_cursor = (data or {}).get("next_cursor")
    response = {
        "rowData": [row(e) for e in items],
        "rowCount": row_count(request, len(items), next_cursor),
    }
    return response, next_paging(paging, state, body, request, len(items), next_cursor), items


def open_rows(grid_id: str, doc_id: str, close_type: str) -> None:
    """Register the callback that shows a clicked row of `grid_id` whole in `doc_id` (fetched
    then) and empties it when its close button (pattern-matching type `close_type`) is used."""

    @callback(
        Output(doc_id, "children"),
        Input(grid_id, "cellClicked"),
        Input({"type": close_type, "index": ALL}, "n_clicks"),
        State(ids.LANG, "data"),
        State(ids.TOKEN, "data"),
        prevent_initial_call=True,
    )
    def open_row(clicked: Any, _close: Any, lang: Any, token: str | None) -> Any:
        closing = isinstance(ctx.triggered_id, dict)
        return opened(clicked, closing, close_type, lang_of(lang), token)


def opened(clicked: Any, closing: bool, close_type: str, lang: str, token: Any) -> Any:
    """The clicked row's whole occurrence, fetched now (the grid holds only its cells); nothing
    once closed. `close_type`: the pattern-matching id type of the page's close button."""
    if closing or not clicked or not clicked.get("rowId"):
        return []
    event, error = attempt(lambda: api.current().event(str(clicked["rowId"]), token))
    if error is not None or event is None:
        return error_box(lang, error) if error else []
    return document(event, lang, close_type)


def document(event: dict[str, Any], lang: str, close_type: str) -> html.Div:
    """One occurrence: its fields, context, stack trace and JSON."""
    fields_shown = [(k, _text(event.get(k))) for k in ("id", *logic.EVENT_FIELDS)]
    parts: list[Any] = [
        html.Div(
            [
                html.H4(t(lang, "document", id=event.get("id"))),
                html.Button(t(lang, "close"), id={"type": close_type, "index": 0}, className="btn"),
            ],
            className="doc-head",
        ),
        kv_table(fields_shown),
    ]
    context = logic.context_rows(event.get("context"))
    if context:
        parts += [html.H5(t(lang, "context")), kv_table(context, "kv context")]
    if event.get("stack_trace"):
        parts.append(html.Pre("\n".join(event["stack_trace"]), className="stack"))
    parts += [
        html.H5(t(lang, "json")),
        html.Pre(json.dumps(event, ensure_ascii=False, indent=2), className="json"),
    ]
    return html.Div(parts, className="card doc-open", **{"data-event-id": event.get("id")})


def _text(value: Any) -> str:
    return "" if value is None else str(value)
