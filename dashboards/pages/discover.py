"""Discover: ad hoc queries over occurrences, Kibana style: query bar, relative or absolute time
range with auto-refresh, histogram with drag-to-zoom, a field sidebar (filtered by name) whose top
values add filter pills (negated, disabled, removed), and a virtualised document table whose
columns are chosen, whose rows load block by block as it scrolls, and whose rows open the whole
occurrence, fetched only then. The URL holds the whole view (dashboards/view.py): saved searches,
the share link and the download links are made from it (dashboards/saved_searches.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import dash
import dash_ag_grid as dag
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html

from dashboards import api, documents, ids, logic, saved_searches, sidebar, view
from dashboards.components import acted, attempt, bar_figure, error_box, graph
from dashboards.i18n import lang_of, t

dash.register_page(__name__, path="/discover", title="Log Center · Discover", order=4)

CUSTOM = "custom"


def layout(lang: str | None = None, **params: Any) -> html.Div:
    lang = lang_of(lang)
    # The URL holds the whole view (query, pills, range, refresh, columns), so a Discover view
    # can be shared, bookmarked, saved and gone back to.
    state = view.state(params)
    chosen = documents.columns(_first(params.get("columns")))
    return html.Div(
        [
            dcc.Location(id=ids.DISCOVER_URL, refresh=False),
            dcc.Store(id=ids.DISCOVER_STATE, data=state),
            dcc.Store(id=ids.DISCOVER_PAGING, data={}),
            dcc.Interval(
                id=ids.DISCOVER_TICK,
                interval=view.refresh_ms(state) or 60_000,
                disabled=not view.refresh_ms(state),
            ),
            _toolbar(state, lang),
            html.Div(pills(state, lang), id=ids.DISCOVER_PILLS, className="pills"),
            saved_searches.panel(state, lang),
            html.Div(id=ids.DISCOVER_ERROR),
            html.Div(
                [
                    sidebar.panel(lang),
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


def _toolbar(state: dict[str, Any], lang: str) -> html.Div:
    quick = [{"label": t(lang, f"range_{k}"), "value": k} for k in logic.QUICK_RANGES]
    quick.append({"label": t(lang, "range_custom"), "value": CUSTOM})
    refresh = [{"label": t(lang, f"refresh_{k}"), "value": k} for k in view.REFRESH]
    return html.Div(
        [
            dcc.Input(
                id=ids.DISCOVER_QUERY,
                type="search",
                value=state["q"],
                debounce=True,
                placeholder=t(lang, "discover_placeholder"),
                className="input search",
            ),
            _choice(ids.DISCOVER_QUICK, quick, state["quick"], "quick"),
            _time(ids.DISCOVER_FROM, state.get("from"), t(lang, "from")),
            _time(ids.DISCOVER_TO, state.get("to"), t(lang, "to")),
            _choice(ids.DISCOVER_REFRESH, refresh, state["refresh"], "refresh"),
            html.Button(t(lang, "search"), id=ids.DISCOVER_GO, className="btn primary"),
        ],
        className="toolbar",
    )


def _choice(component_id: str, options: list[Any], value: Any, name: str) -> dcc.Dropdown:
    return dcc.Dropdown(
        id=component_id,
        options=options,
        value=value,
        clearable=False,
        searchable=False,
        className=name,
    )


def _time(component_id: str, value: Any, placeholder: str) -> dcc.Input:
    """An absolute range bound, typed (ISO 8601, UTC) and applied on Enter."""
    return dcc.Input(
        id=component_id,
        value=value,
        placeholder=placeholder,
        debounce=True,
        className="input time",
    )


def pills(state: dict[str, Any], lang: str) -> list[Any]:
    """One pill per filter: its text (struck through when disabled, NOT when negated) and
    buttons to negate, disable or remove it."""
    out = []
    for index, p in enumerate(view.pills(state.get("pills"))):
        text = f"{'NOT ' if p['negated'] else ''}{p['field']}: {p['value']}"
        buttons = [
            html.Button(
                t(lang, f"pill_{action}_{'off' if _is_on(p, action) else 'on'}"),
                id={"type": ids.DISCOVER_PILL, "action": action, "index": index},
                className=f"pill-action pill-{action}",
                title=t(lang, f"pill_{action}_title"),
            )
            for action in view.PILL_ACTIONS
        ]
        classes = " ".join(
            [
                "pill",
                *(["negated"] if p["negated"] else []),
                *(["disabled"] if p["disabled"] else []),
            ]
        )
        out.append(
            html.Span(
                [html.Span(text, className="pill-text"), *buttons],
                className=classes,
                **{"data-pill": view.pill_param(p)},  # type: ignore[arg-type]  # data-* attribute
            )
        )
    return out


def _is_on(p: dict[str, Any], action: str) -> bool:
    return bool(p["negated"] if action == "negate" else p["disabled"] if action == "disable" else 0)


_NONE = (dash.no_update,) * 8


@callback(
    Output(ids.DISCOVER_STATE, "data"),
    Output(ids.DISCOVER_QUERY, "value"),
    Output(ids.DISCOVER_QUICK, "value"),
    Output(ids.DISCOVER_FROM, "value"),
    Output(ids.DISCOVER_TO, "value"),
    Output(ids.DISCOVER_REFRESH, "value"),
    Output(ids.DISCOVER_URL, "search"),
    Output(ids.DISCOVER_COLUMNS, "value"),
    Input(ids.DISCOVER_GO, "n_clicks"),
    Input(ids.DISCOVER_QUERY, "n_submit"),
    Input(ids.DISCOVER_QUICK, "value"),
    Input(ids.DISCOVER_FROM, "n_submit"),
    Input(ids.DISCOVER_TO, "n_submit"),
    Input(ids.DISCOVER_REFRESH, "value"),
    Input(ids.DISCOVER_HISTOGRAM, "relayoutData"),
    Input({"type": ids.DISCOVER_FIELD_VALUE, "field": ALL, "value": ALL}, "n_clicks"),
    Input({"type": ids.DISCOVER_PILL, "action": ALL, "index": ALL}, "n_clicks"),
    Input(ids.DISCOVER_URL, "search"),
    Input(ids.DISCOVER_COLUMNS, "value"),
    State(ids.DISCOVER_QUERY, "value"),
    State(ids.DISCOVER_FROM, "value"),
    State(ids.DISCOVER_TO, "value"),
    State(ids.DISCOVER_STATE, "data"),
    prevent_initial_call=True,
)
def on_control(*args: Any) -> tuple[Any, ...]:
    """Query bar, range picker, refresh choice, zoom, field values and pill buttons all produce
    the next search state, which the URL then holds with the chosen columns; the URL changing
    under the page (back, forward, a saved search loaded) restores both."""
    quick, refresh, relayout, search, chosen = args[2], args[5], args[6], args[9], args[10]
    q, start, end, state = args[-4], args[-3], args[-2], dict(args[-1] or {})
    trigger = ctx.triggered_id
    if trigger == ids.DISCOVER_URL:
        return _restore(search, state, chosen)
    if trigger == ids.DISCOVER_COLUMNS:
        url = view.search(state, chosen)
        return *_NONE[:6], url if url != (search or "") else dash.no_update, dash.no_update
    if not acted():
        return _NONE
    state["q"] = (q or "").strip()
    if isinstance(trigger, dict) and trigger["type"] == ids.DISCOVER_FIELD_VALUE:
        state["pills"] = view.add_pill(state.get("pills"), trigger["field"], trigger["value"])
    elif isinstance(trigger, dict):
        state["pills"] = view.act_on_pill(state.get("pills"), trigger["index"], trigger["action"])
    elif trigger == ids.DISCOVER_REFRESH:
        state["refresh"] = refresh if refresh in view.REFRESH else "off"
    elif trigger == ids.DISCOVER_HISTOGRAM:
        zoom = logic.zoom_range(relayout)
        if zoom is None:
            return _NONE
        state.update(quick=CUSTOM, **{"from": zoom[0], "to": zoom[1]})
    elif trigger == ids.DISCOVER_QUICK and quick != CUSTOM:
        state.update(quick=quick, **{"from": None, "to": None})
    elif quick == CUSTOM or start or end:  # search button, Enter, or absolute times typed
        low, high = logic.time_range(
            {**state, "quick": CUSTOM, "from": start, "to": end}, datetime.now(UTC)
        )
        state.update(quick=CUSTOM, **{"from": logic.iso(low), "to": logic.iso(high)})
    url = view.search(state, chosen)
    return (
        state,
        *_controls(state),
        url if url != (search or "") else dash.no_update,
        dash.no_update,
    )


def _restore(search: str | None, state: dict[str, Any], chosen: Any) -> tuple[Any, ...]:
    params = parse_qs((search or "").lstrip("?"))
    restored = view.state(params)
    columns = documents.columns(_first(params.get("columns")))
    if view.search(restored, columns) == view.search(state, chosen):
        return _NONE
    same = restored == state
    return (dash.no_update if same else restored), *_controls(restored), dash.no_update, columns


def _controls(state: dict[str, Any]) -> tuple[Any, ...]:
    """What the toolbar shows of a state: query, range choice, from, to, refresh."""
    return state["q"], state["quick"], state.get("from"), state.get("to"), state.get("refresh")


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


@callback(
    Output(ids.DISCOVER_PILLS, "children"),
    Output(ids.DISCOVER_TICK, "interval"),
    Output(ids.DISCOVER_TICK, "disabled"),
    Input(ids.DISCOVER_STATE, "data"),
    State(ids.LANG, "data"),
    prevent_initial_call=True,
)
def show_view(state: dict[str, Any], lang: Any) -> tuple[Any, ...]:
    """The pills and the auto-refresh timer of a new state."""
    state = state or {}
    every = view.refresh_ms(state)
    return pills(state, lang_of(lang)), every or 60_000, not every


@callback(
    Output(ids.DISCOVER_HISTOGRAM, "figure"),
    Output(ids.DISCOVER_TOTAL, "children"),
    Output(ids.DISCOVER_ERROR, "children"),
    Input(ids.DISCOVER_STATE, "data"),
    Input(ids.DISCOVER_TICK, "n_intervals"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
)
def search(state: dict[str, Any], _tick: Any, lang: Any, token: str | None) -> tuple[Any, ...]:
    """Total and histogram, again at each auto-refresh tick; the field values (`side_fields`)
    and the documents (`rows`, block by block) come with searches of their own."""
    lang = lang_of(lang)
    body = documents.summary_body(view.applied(state or {}), datetime.now(UTC))
    data, error = attempt(lambda: api.current().search_events(body, token))
    if error is not None or data is None:
        return bar_figure([]), "", error_box(lang, error) if error else ""
    return bar_figure(data.get("histogram", [])), t(lang, "hits", total=data.get("total", 0)), ""


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
    state = view.applied(state or {})
    response, paging, items = documents.block(request, state, paging or {}, token)
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


# A new search (query, pills, range, zoom, back/forward) or an auto-refresh tick drops the
# loaded blocks; the grid asks again.
clientside_callback(
    "function (state, tick) {"
    f"  window.dash_ag_grid.getApiAsync({json.dumps(ids.DISCOVER_GRID)})"
    "    .then((api) => api.purgeInfiniteCache());"
    "  return window.dash_clientside.no_update;"
    "}",
    Output(ids.DISCOVER_PAGING, "data", allow_duplicate=True),
    Input(ids.DISCOVER_STATE, "data"),
    Input(ids.DISCOVER_TICK, "n_intervals"),
    prevent_initial_call=True,
)


# A clicked row opens the whole occurrence below the table, fetched then.
documents.open_rows(ids.DISCOVER_GRID, ids.DISCOVER_DOC, ids.DISCOVER_DOC_CLOSE)
