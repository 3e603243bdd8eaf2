"""Discover: ad hoc queries over occurrences, Kibana style: query bar, time range, histogram with
drag-to-zoom, a field sidebar whose values add filters, and a virtualised document table whose
columns are chosen (kept in the URL), whose rows load block by block as it scrolls, and whose
rows open the whole occurrence, fetched only then."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
import dash_ag_grid as dag
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html

from dashboards import api, documents, ids, logic
from dashboards.components import (
    acted,
    attempt,
    bar_figure,
    error_box,
    facet_button,
    graph,
)
from dashboards.i18n import lang_of, t

dash.register_page(__name__, path="/discover", title="Log Center · Discover", order=4)

CUSTOM = "custom"


def layout(lang: str | None = None, **params: Any) -> html.Div:
    lang = lang_of(lang)
    quick = [{"label": t(lang, f"range_{k}"), "value": k} for k in logic.QUICK_RANGES]
    quick.append({"label": t(lang, "range_custom"), "value": CUSTOM})
    # The URL holds the query and the range (`?q=...&range=7d`, or `from`/`to` after a zoom),
    # so a Discover view can be shared, bookmarked and gone back to.
    state = logic.discover_state(params)
    chosen = documents.columns(_first(params.get("columns")))
    return html.Div(
        [
            dcc.Location(id=ids.DISCOVER_URL, refresh=False),
            dcc.Store(id=ids.DISCOVER_STATE, data=state),
            dcc.Store(id=ids.DISCOVER_PAGING, data={}),
            html.Div(
                [
                    dcc.Input(
                        id=ids.DISCOVER_QUERY,
                        type="search",
                        value=state["q"],
                        debounce=True,
                        placeholder=t(lang, "discover_placeholder"),
                        className="input search",
                    ),
                    dcc.Dropdown(
                        id=ids.DISCOVER_QUICK,
                        options=quick,
                        value=state["quick"],
                        clearable=False,
                        searchable=False,
                        className="quick",
                    ),
                    dcc.Input(
                        id=ids.DISCOVER_FROM,
                        value=state.get("from"),
                        placeholder=t(lang, "from"),
                        debounce=True,
                        className="input time",
                    ),
                    dcc.Input(
                        id=ids.DISCOVER_TO,
                        value=state.get("to"),
                        placeholder=t(lang, "to"),
                        debounce=True,
                        className="input time",
                    ),
                    html.Button(t(lang, "search"), id=ids.DISCOVER_GO, className="btn primary"),
                ],
                className="toolbar",
            ),
            html.Div(id=ids.DISCOVER_ERROR),
            html.Div(
                [
                    html.Aside(
                        [
                            html.H4(t(lang, "fields")),
                            html.P(t(lang, "add_filter"), className="muted"),
                            html.Div(id=ids.DISCOVER_FIELDS),
                        ],
                        className="facets",
                    ),
                    html.Section(
                        [
                            html.Div(
                                [
                                    html.B(id=ids.DISCOVER_TOTAL),
                                    html.Span(t(lang, "zoom_hint"), className="muted"),
                                ],
                                className="hits-row",
                            ),
                            graph(ids.DISCOVER_HISTOGRAM, bar_figure([])),
                            html.Div(
                                [
                                    dcc.Dropdown(
                                        id=ids.DISCOVER_COLUMNS,
                                        options=documents.column_options(chosen, ()),
                                        value=chosen,
                                        multi=True,
                                        clearable=False,
                                        placeholder=t(lang, "columns"),
                                        className="columns",
                                    ),
                                    html.Span(t(lang, "open_doc_hint"), className="muted"),
                                ],
                                className="columns-row",
                            ),
                            html.Div(document_grid(chosen), id=ids.DISCOVER_DOCS, className="docs"),
                            html.Div(id=ids.DISCOVER_DOC),
                        ],
                        className="results",
                    ),
                ],
                className="split",
            ),
        ],
        className="page page-discover",
    )


@callback(
    Output(ids.DISCOVER_STATE, "data"),
    Output(ids.DISCOVER_QUERY, "value"),
    Output(ids.DISCOVER_QUICK, "value"),
    Output(ids.DISCOVER_FROM, "value"),
    Output(ids.DISCOVER_TO, "value"),
    Output(ids.DISCOVER_URL, "search"),
    Output(ids.DISCOVER_COLUMNS, "value"),
    Input(ids.DISCOVER_GO, "n_clicks"),
    Input(ids.DISCOVER_QUERY, "n_submit"),
    Input(ids.DISCOVER_QUICK, "value"),
    Input(ids.DISCOVER_FROM, "n_submit"),
    Input(ids.DISCOVER_TO, "n_submit"),
    Input(ids.DISCOVER_HISTOGRAM, "relayoutData"),
    Input({"type": ids.DISCOVER_FIELD_VALUE, "field": ALL, "value": ALL}, "n_clicks"),
    Input(ids.DISCOVER_URL, "search"),
    Input(ids.DISCOVER_COLUMNS, "value"),
    State(ids.DISCOVER_QUERY, "value"),
    State(ids.DISCOVER_FROM, "value"),
    State(ids.DISCOVER_TO, "value"),
    State(ids.DISCOVER_STATE, "data"),
    prevent_initial_call=True,
)
def on_control(*args: Any) -> tuple[Any, ...]:
    """Query bar, range picker, zoom and field clicks all produce the next search state, which
    the URL then holds with the chosen columns; the URL changing under the page (back, forward)
    restores both."""
    quick, relayout, search, chosen = args[2], args[5], args[7], args[8]
    q, start, end, state = args[-4], args[-3], args[-2], dict(args[-1] or {})
    trigger = ctx.triggered_id
    if trigger == ids.DISCOVER_URL:
        params = parse_qs((search or "").lstrip("?"))
        restored = logic.discover_state(params)
        columns = documents.columns(_first(params.get("columns")))
        if _search(restored, columns) == _search(state, chosen):
            return (dash.no_update,) * 7
        controls = restored["q"], restored["quick"], restored.get("from"), restored.get("to")
        same = restored == state
        return (dash.no_update if same else restored), *controls, dash.no_update, columns
    if trigger == ids.DISCOVER_COLUMNS:
        url = _search(state, chosen)
        return (
            *(dash.no_update,) * 5,
            url if url != (search or "") else dash.no_update,
            dash.no_update,
        )
    if not acted():
        return (dash.no_update,) * 7
    state["q"] = (q or "").strip()
    if isinstance(trigger, dict):
        state["q"] = logic.add_query_filter(state["q"], trigger["field"], trigger["value"])
    elif trigger == ids.DISCOVER_HISTOGRAM:
        zoom = logic.zoom_range(relayout)
        if zoom is None:
            return (dash.no_update,) * 7
        state.update(quick=CUSTOM, **{"from": zoom[0], "to": zoom[1]})
    elif trigger == ids.DISCOVER_QUICK and quick != CUSTOM:
        state.update(quick=quick, **{"from": None, "to": None})
    else:  # search button, Enter, or absolute times typed
        if quick == CUSTOM or start or end:
            low, high = logic.time_range(
                {**state, "quick": CUSTOM, "from": start, "to": end}, datetime.now(UTC)
            )
            state.update(quick=CUSTOM, **{"from": logic.iso(low), "to": logic.iso(high)})
    url = _search(state, chosen)
    controls = state["q"], state["quick"], state.get("from"), state.get("to")
    return state, *controls, url if url != (search or "") else dash.no_update, dash.no_update


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _search(state: dict[str, Any], chosen: Any) -> str:
    """The URL query string of a search state and the chosen columns."""
    url = logic.discover_search(state)
    param = documents.columns_param(documents.columns(chosen))
    if param is None:
        return url
    return f"{url}&{urlencode({'columns': param})}" if url else f"?{urlencode({'columns': param})}"


@callback(
    Output(ids.DISCOVER_HISTOGRAM, "figure"),
    Output(ids.DISCOVER_TOTAL, "children"),
    Output(ids.DISCOVER_ERROR, "children"),
    Input(ids.DISCOVER_STATE, "data"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
)
def search(state: dict[str, Any], lang: Any, token: str | None) -> tuple[Any, ...]:
    """Total and histogram; the field values (`side_fields`) and the documents (`rows`, block
    by block) come with searches of their own."""
    lang = lang_of(lang)
    body = documents.summary_body(state or {}, datetime.now(UTC))
    data, error = attempt(lambda: api.current().search_events(body, token))
    if error is not None or data is None:
        return bar_figure([]), "", error_box(lang, error) if error else ""
    return bar_figure(data.get("histogram", [])), t(lang, "hits", total=data.get("total", 0)), ""


@callback(
    Output(ids.DISCOVER_FIELDS, "children"),
    Input(ids.DISCOVER_TOTAL, "children"),
    State(ids.DISCOVER_STATE, "data"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def side_fields(_total: Any, state: dict[str, Any], lang: Any, token: str | None) -> list[Any]:
    """The sidebar's top values, asked for once the hits are counted: on one API worker their
    seconds of counting would otherwise delay the hits and the first documents too (an error
    shows beside the hits, from `search`)."""
    body = documents.fields_body(state or {}, datetime.now(UTC))
    data, _ = attempt(lambda: api.current().search_events(body, token))
    return fields((data or {}).get("facets", {}), lang_of(lang))


def document_grid(chosen: list[str]) -> dag.AgGrid:
    """The virtualised document table; `rows` answers each block it asks for."""
    return documents.grid(ids.DISCOVER_GRID, chosen)


@callback(
    Output(ids.DISCOVER_GRID, "getRowsResponse"),
    Output(ids.DISCOVER_PAGING, "data"),
    Output(ids.DISCOVER_COLUMNS, "options"),
    Input(ids.DISCOVER_GRID, "getRowsRequest"),
    State(ids.DISCOVER_STATE, "data"),
    State(ids.DISCOVER_PAGING, "data"),
    State(ids.DISCOVER_COLUMNS, "value"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def rows(
    request: dict[str, Any] | None, state: Any, paging: Any, chosen: Any, token: str | None
) -> tuple[Any, ...]:
    """One block of documents for the grid, as small rows (no stack traces)."""
    if not request:
        return dash.no_update, dash.no_update, dash.no_update
    response, paging, items = documents.block(request, state or {}, paging or {}, token)
    options: Any = dash.no_update
    if not request.get("startRow"):
        chosen = documents.columns(chosen)
        options = documents.column_options(chosen, documents.context_keys(items))
    return response, paging, options


@callback(
    Output(ids.DISCOVER_GRID, "columnDefs"),
    Input(ids.DISCOVER_COLUMNS, "value"),
    prevent_initial_call=True,
)
def choose_columns(chosen: Any) -> list[dict[str, Any]]:
    return documents.column_defs(documents.columns(chosen))


# A new search (query, range, zoom, back/forward) drops the loaded blocks; the grid asks again.
clientside_callback(
    "function (state) {"
    f"  window.dash_ag_grid.getApiAsync({json.dumps(ids.DISCOVER_GRID)})"
    "    .then((api) => api.purgeInfiniteCache());"
    "  return window.dash_clientside.no_update;"
    "}",
    Output(ids.DISCOVER_PAGING, "data", allow_duplicate=True),
    Input(ids.DISCOVER_STATE, "data"),
    prevent_initial_call=True,
)


# A clicked row opens the whole occurrence below the table, fetched then.
documents.open_rows(ids.DISCOVER_GRID, ids.DISCOVER_DOC, ids.DISCOVER_DOC_CLOSE)


def fields(facets: dict[str, list[dict[str, Any]]], lang: str) -> list[Any]:
    panels = []
    for name in logic.DISCOVER_FIELDS:
        values = facets.get(name) or []
        if not values:
            continue
        items = [
            facet_button(
                {"type": ids.DISCOVER_FIELD_VALUE, "field": name, "value": v["value"]},
                v["value"],
                v["count"],
                title=f'{name}:"{v["value"]}"',
            )
            for v in values[:10]
        ]
        panels.append(
            html.Div([html.H5(t(lang, f"facet_{name}")), html.Ul(items)], className="facet")
        )
    return panels
