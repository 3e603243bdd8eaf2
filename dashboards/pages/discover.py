"""Discover: ad hoc queries over occurrences, Kibana style: query bar, time range, histogram with
drag-to-zoom, a field sidebar whose values add filters, and expandable documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from dashboards import api, ids, logic
from dashboards.components import (
    acted,
    attempt,
    bar_figure,
    error_box,
    event_rows,
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
    return html.Div(
        [
            dcc.Location(id=ids.DISCOVER_URL, refresh=False),
            dcc.Store(id=ids.DISCOVER_STATE, data=state),
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
                            html.Div(id=ids.DISCOVER_DOCS, className="docs"),
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
    Input(ids.DISCOVER_GO, "n_clicks"),
    Input(ids.DISCOVER_QUERY, "n_submit"),
    Input(ids.DISCOVER_QUICK, "value"),
    Input(ids.DISCOVER_FROM, "n_submit"),
    Input(ids.DISCOVER_TO, "n_submit"),
    Input(ids.DISCOVER_HISTOGRAM, "relayoutData"),
    Input({"type": ids.DISCOVER_FIELD_VALUE, "field": ALL, "value": ALL}, "n_clicks"),
    Input(ids.DISCOVER_URL, "search"),
    State(ids.DISCOVER_QUERY, "value"),
    State(ids.DISCOVER_FROM, "value"),
    State(ids.DISCOVER_TO, "value"),
    State(ids.DISCOVER_STATE, "data"),
    prevent_initial_call=True,
)
def on_control(*args: Any) -> tuple[Any, ...]:
    """Query bar, range picker, zoom and field clicks all produce the next search state, which
    the URL then holds; the URL changing under the page (back, forward) restores its state."""
    quick, relayout, search = args[2], args[5], args[7]
    q, start, end, state = args[-4], args[-3], args[-2], dict(args[-1] or {})
    trigger = ctx.triggered_id
    if trigger == ids.DISCOVER_URL:
        restored = logic.discover_state(parse_qs((search or "").lstrip("?")))
        if logic.discover_search(restored) == logic.discover_search(state):
            return (dash.no_update,) * 6
        controls = restored["q"], restored["quick"], restored.get("from"), restored.get("to")
        return restored, *controls, dash.no_update
    if not acted():
        return (dash.no_update,) * 6
    state["q"] = (q or "").strip()
    if isinstance(trigger, dict):
        state["q"] = logic.add_query_filter(state["q"], trigger["field"], trigger["value"])
    elif trigger == ids.DISCOVER_HISTOGRAM:
        zoom = logic.zoom_range(relayout)
        if zoom is None:
            return (dash.no_update,) * 6
        state.update(quick=CUSTOM, **{"from": zoom[0], "to": zoom[1]})
    elif trigger == ids.DISCOVER_QUICK and quick != CUSTOM:
        state.update(quick=quick, **{"from": None, "to": None})
    else:  # search button, Enter, or absolute times typed
        if quick == CUSTOM or start or end:
            low, high = logic.time_range(
                {**state, "quick": CUSTOM, "from": start, "to": end}, datetime.now(UTC)
            )
            state.update(quick=CUSTOM, **{"from": logic.iso(low), "to": logic.iso(high)})
    url = logic.discover_search(state)
    controls = state["q"], state["quick"], state.get("from"), state.get("to")
    return state, *controls, url if url != (search or "") else dash.no_update


@callback(
    Output(ids.DISCOVER_HISTOGRAM, "figure"),
    Output(ids.DISCOVER_FIELDS, "children"),
    Output(ids.DISCOVER_DOCS, "children"),
    Output(ids.DISCOVER_TOTAL, "children"),
    Output(ids.DISCOVER_ERROR, "children"),
    Input(ids.DISCOVER_STATE, "data"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
)
def search(state: dict[str, Any], lang: Any, token: str | None) -> tuple[Any, ...]:
    lang = lang_of(lang)
    body = logic.discover_body(state or {}, datetime.now(UTC))
    data, error = attempt(lambda: api.current().search_events(body, token))
    if error is not None or data is None:
        return bar_figure([]), [], [], "", error_box(lang, error) if error else ""
    return (
        bar_figure(data.get("histogram", [])),
        fields(data.get("facets", {}), lang),
        event_rows(data.get("items", []), lang),
        t(lang, "hits", total=data.get("total", 0)),
        "",
    )


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
