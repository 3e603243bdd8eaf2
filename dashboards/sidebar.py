"""Discover's field sidebar: every field by name, filtered by a text box in the browser; the
indexed ones with their top values, each with its exact count and its share of the hits it was
counted over ("42 of 1,000 (4.2%)"). A value, clicked, becomes a filter pill (pages/discover.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import ALL, Input, Output, State, callback, clientside_callback, dcc, html

from dashboards import api, documents, ids, logic, view
from dashboards.components import attempt
from dashboards.i18n import lang_of, t


def panel(lang: str) -> html.Aside:
    """The sidebar, empty until the hits are counted (then `side_fields` fills it)."""
    return html.Aside(
        [
            html.H4(t(lang, "fields")),
            dcc.Input(
                id=ids.DISCOVER_FIELD_FILTER,
                type="search",
                placeholder=t(lang, "filter_fields"),
                className="input field-filter",
            ),
            html.P(t(lang, "add_filter"), className="muted"),
            html.Div(id=ids.DISCOVER_FIELDS),
        ],
        className="facets",
    )


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
    body = documents.fields_body(view.applied(state or {}), datetime.now(UTC))
    data, _ = attempt(lambda: api.current().search_events(body, token))
    data = data or {}
    return fields(data.get("facets", {}), int(data.get("total") or 0), lang_of(lang))


def fields(facets: dict[str, list[dict[str, Any]]], total: int, lang: str) -> list[Any]:
    """A panel per field: first the indexed ones with their top values, each with its exact
    count and share of the `total` hits they were counted over; then the others, by name only
    (their values show as columns)."""
    others = [n for n in documents.FIELDS if n not in logic.DISCOVER_FIELDS]
    panels = []
    for name in (*logic.DISCOVER_FIELDS, *others):
        label = t(lang, f"facet_{name}") if name in logic.DISCOVER_FIELDS else name
        head: list[Any] = [label]
        if label != name:
            head.append(html.Span(name, className="field-name"))
        body: list[Any] = []
        if name not in logic.DISCOVER_FIELDS:
            head.append(html.Span(t(lang, "no_top_values"), className="field-note"))
        elif facets.get(name):
            body.append(html.Ul([_value(name, v, total, lang) for v in facets[name][:10]]))
        else:
            body.append(html.P(t(lang, "no_values"), className="muted"))
        panels.append(
            html.Div(
                [html.H5(head), *body],
                id={"type": ids.DISCOVER_FIELD_PANEL, "field": name},
                title=f"{name} {label}",
                className="facet",
            )
        )
    return panels


def _value(name: str, v: dict[str, Any], total: int, lang: str) -> html.Li:
    count = int(v["count"])
    return html.Li(
        html.Button(
            [
                html.Span(v["value"] or "—", className="facet-value"),
                html.Span(t(lang, "share", **view.share(count, total)), className="facet-share"),
            ],
            id={"type": ids.DISCOVER_FIELD_VALUE, "field": name, "value": v["value"]},
            className="facet-item",
            title=f'{name}:"{v["value"]}"',
        )
    )


# The sidebar's name filter hides the fields whose name (or label) does not contain its text,
# in the browser: the panels are all there already.
clientside_callback(
    """function (text, _panels, titles) {
        const wanted = (text || "").trim().toLowerCase();
        return titles.map((title) =>
            !wanted || (title || "").toLowerCase().includes(wanted) ? {} : {display: "none"});
    }""",
    Output({"type": ids.DISCOVER_FIELD_PANEL, "field": ALL}, "style"),
    Input(ids.DISCOVER_FIELD_FILTER, "value"),
    Input(ids.DISCOVER_FIELDS, "children"),
    State({"type": ids.DISCOVER_FIELD_PANEL, "field": ALL}, "title"),
)
