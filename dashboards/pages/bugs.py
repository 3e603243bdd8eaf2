"""Bugs (home): Lucene search, facet panels with counts, sort, paging; the URL holds the state.

Every control writes the query string (dcc.Location with callback navigation), Dash pages renders
the layout again from it, so links are shareable and the back button steps through searches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from dashboards import api, components, ids, logic, view
from dashboards.components import acted, attempt, error_box, facet_button, status_badge, table
from dashboards.i18n import lang_of, t
from store import vocabulary

dash.register_page(__name__, path="/", title="Log Center · Bugs", order=0)

REFRESH_MS = 15_000


def layout(lang: str | None = None, token: str | None = None, **params: Any) -> html.Div:
    lang = lang_of(lang)
    f = logic.filters_from_params(params)
    facets, results, pager = render(f, lang, token)
    return html.Div(
        [
            dcc.Location(id=ids.BUGS_URL, refresh="callback-nav"),
            dcc.Store(id=ids.BUGS_STATE, data=f.to_store()),
            dcc.Interval(id=ids.BUGS_REFRESH, interval=REFRESH_MS),
            _toolbar(f, lang),
            _merge_bar(lang),
            html.Div(
                [
                    html.Aside(facets, id=ids.BUGS_FACETS, className="facets"),
                    html.Section(
                        [
                            html.Div(results, id=ids.BUGS_RESULTS),
                            html.Div(
                                [
                                    html.Button(
                                        t(lang, "prev"),
                                        id=ids.BUGS_PREV,
                                        className="btn",
                                        disabled=pager["first"],
                                    ),
                                    html.Span(pager["text"], id=ids.BUGS_TOTAL, className="muted"),
                                    html.Button(
                                        t(lang, "next"),
                                        id=ids.BUGS_NEXT,
                                        className="btn",
                                        disabled=pager["last"],
                                    ),
                                ],
                                className="pager",
                            ),
                        ],
                        className="results",
                    ),
                ],
                className="split",
            ),
        ],
        className="page page-bugs",
    )


def _toolbar(f: logic.BugFilters, lang: str) -> html.Div:
    sort_options = [
        {"label": t(lang, f"sort_{s}"), "value": s} for s in vocabulary.SIGNED_BUG_SORTS
    ]
    return html.Div(
        [
            html.Div(
                [
                    dcc.Input(
                        id=ids.BUGS_SEARCH,
                        type="search",
                        value=f.q,
                        debounce=True,
                        placeholder=t(lang, "search_placeholder"),
                        className="input search",
                    ),
                    html.Button(t(lang, "search"), id=ids.BUGS_SEARCH_GO, className="btn primary"),
                    dcc.Dropdown(
                        id=ids.BUGS_SORT,
                        options=sort_options,
                        value=f.sort,
                        clearable=False,
                        searchable=False,
                        className="sort",
                    ),
                    html.Button(t(lang, "clear_filters"), id=ids.BUGS_CLEAR, className="btn"),
                    # The whole search (every page), through the dashboard's /download route.
                    *components.downloads(
                        ids.BUGS_DOWNLOAD,
                        {fmt: view.bugs_export_href(f, fmt) for fmt in view.FORMATS},
                        lang,
                    ),
                ],
                className="toolbar",
            ),
            html.Details(
                [html.Summary(t(lang, "syntax_help")), html.P(t(lang, "syntax_text"))],
                className="syntax-help",
            ),
        ]
    )


def _merge_bar(lang: str) -> html.Div:
    """Merge the ticked bugs into the one chosen here (offered once two are ticked)."""
    return html.Div(
        [
            dcc.Dropdown(
                id=ids.BUGS_MERGE_TARGET,
                options=[],
                placeholder=t(lang, "merge_target"),
                clearable=False,
                searchable=False,
                className="merge-target",
            ),
            html.Button(t(lang, "merge_into"), id=ids.BUGS_MERGE, className="btn", disabled=True),
            html.Span(t(lang, "merge_pick"), id=ids.BUGS_MERGE_RESULT, className="muted"),
        ],
        className="toolbar merge-bar",
    )


def render(
    f: logic.BugFilters, lang: str, token: str | None, picked: Sequence[int] = ()
) -> tuple[Any, Any, dict[str, Any]]:
    """(facet panels, result table, pager info) for one search; `picked` rows stay ticked."""
    data, error = attempt(lambda: api.current().bugs(logic.bug_api_params(f), token))
    if error is not None:
        return [], error_box(lang, error), {"text": "", "first": True, "last": True}
    assert data is not None
    pages = logic.page_count(data["total"])
    pager = {
        "text": f"{t(lang, 'total_bugs', total=data['total'])} · "
        f"{t(lang, 'page_of', page=f.page, pages=pages)}",
        "first": f.page <= 1,
        "last": f.page >= pages,
    }
    table = _table(data["items"], lang, set(picked))
    return _facets(data.get("facets", {}), f, lang), table, pager


def _facets(facets: dict[str, list[dict[str, Any]]], f: logic.BugFilters, lang: str) -> list[Any]:
    panels = []
    for name in vocabulary.FACET_FIELDS:
        entries = logic.facet_entries(facets.get(name, []), f.filters.get(name, ()))
        items = [
            facet_button(
                {"type": ids.BUGS_FACET_ITEM, "field": name, "value": value},
                value,
                count,
                selected=chosen,
            )
            for value, count, chosen in entries
        ]
        panels.append(
            html.Div(
                [html.H4(t(lang, f"facet_{name}")), html.Ul(items)], className=f"facet facet-{name}"
            )
        )
    return panels


def _table(items: list[dict[str, Any]], lang: str, picked: set[int]) -> Any:
    if not items:
        return html.P(t(lang, "no_results"), className="muted empty")
    headers = [""] + [
        t(lang, k)
        for k in (
            "col_id",
            "col_status",
            "col_project",
            "col_type",
            "col_message",
            "col_count",
            "col_last_seen",
        )
    ]
    return table(
        headers,
        [_row(bug, lang, bug["id"] in picked) for bug in items],
        class_name="grid bugs",
        id=ids.BUGS_TABLE,
    )


def _row(bug: dict[str, Any], lang: str, picked: bool = False) -> html.Tr:
    href = f"/bugs/{bug['id']}"
    message: list[Any] = [dcc.Link(logic.truncate(bug.get("message")), href=href)]
    if bug.get("status") == "FIX_FAILED" and bug.get("failure_reason"):
        message.append(
            html.Div(
                [
                    html.B(t(lang, "failure_reason") + ": "),
                    logic.truncate(bug["failure_reason"], 200),
                ],
                className="failure-reason",
            )
        )
    status: list[Any] = [status_badge(bug.get("status"))]
    if bug.get("regression_count"):
        status.append(html.Span("↻", className="regression-mark", title=t(lang, "regression")))
    pick = dcc.Checklist(
        id={"type": ids.BUGS_PICK, "bug": bug["id"]},
        options=[{"label": "", "value": bug["id"]}],
        value=[bug["id"]] if picked else [],
        className="pick",
    )
    return html.Tr(
        [
            html.Td(pick),
            html.Td(dcc.Link(f"#{bug['id']}", href=href)),
            html.Td(status),
            html.Td(bug.get("project_id")),
            html.Td(bug.get("error_type"), className="mono"),
            html.Td(message, className="message"),
            html.Td(bug.get("count"), className="num"),
            html.Td(logic.short_time(bug.get("last_seen")), className="nowrap"),
        ],
        className=f"bug-row row-{(bug.get('status') or '').lower()}",
        **{"data-bug-id": str(bug["id"])},  # type: ignore[arg-type]  # data-* attribute
    )


@callback(
    Output(ids.BUGS_URL, "search"),
    Input(ids.BUGS_SEARCH, "n_submit"),
    Input(ids.BUGS_SEARCH_GO, "n_clicks"),
    Input(ids.BUGS_SORT, "value"),
    Input(ids.BUGS_PREV, "n_clicks"),
    Input(ids.BUGS_NEXT, "n_clicks"),
    Input(ids.BUGS_CLEAR, "n_clicks"),
    Input({"type": ids.BUGS_FACET_ITEM, "field": ALL, "value": ALL}, "n_clicks"),
    State(ids.BUGS_SEARCH, "value"),
    State(ids.BUGS_STATE, "data"),
    prevent_initial_call=True,
)
def on_control(*args: Any) -> Any:
    """Turn one control change into the next URL query string."""
    q, state = args[-2], args[-1]
    if not acted():
        return dash.no_update
    f = logic.BugFilters.from_store(state)
    trigger = ctx.triggered_id
    if isinstance(trigger, dict):
        f = logic.toggle_filter(f, trigger["field"], trigger["value"])
    elif trigger in (ids.BUGS_SEARCH, ids.BUGS_SEARCH_GO):
        f = logic.BugFilters(q=(q or "").strip(), filters=f.filters, sort=f.sort)
    elif trigger == ids.BUGS_SORT:
        f = logic.BugFilters(q=f.q, filters=f.filters, sort=args[2])
    elif trigger in (ids.BUGS_PREV, ids.BUGS_NEXT):
        f = logic.turn_page(f, -1 if trigger == ids.BUGS_PREV else 1)
    elif trigger == ids.BUGS_CLEAR:
        f = logic.BugFilters(sort=f.sort)
    search = logic.filters_to_search(f)
    return (
        search
        if search != logic.filters_to_search(logic.BugFilters.from_store(state))
        else dash.no_update
    )


@callback(
    Output(ids.BUGS_FACETS, "children"),
    Output(ids.BUGS_RESULTS, "children"),
    Output(ids.BUGS_TOTAL, "children"),
    Output(ids.BUGS_PREV, "disabled"),
    Output(ids.BUGS_NEXT, "disabled"),
    Input(ids.BUGS_REFRESH, "n_intervals"),
    State(ids.BUGS_STATE, "data"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
    State({"type": ids.BUGS_PICK, "bug": ALL}, "value"),
    prevent_initial_call=True,
)
def refresh(
    _n: Any, state: dict[str, Any], lang: Any, token: str | None, picks: list[Any]
) -> tuple[Any, ...]:
    """Periodic reload: counts and rows follow new reports without a reload (ticks kept)."""
    f, picked = logic.BugFilters.from_store(state), logic.picked_bugs(picks)
    facets, results, pager = render(f, lang_of(lang), token, picked)
    return facets, results, pager["text"], pager["first"], pager["last"]


@callback(
    Output(ids.BUGS_MERGE_TARGET, "options"),
    Output(ids.BUGS_MERGE_TARGET, "value"),
    Output(ids.BUGS_MERGE, "disabled"),
    Input({"type": ids.BUGS_PICK, "bug": ALL}, "value"),
    State(ids.BUGS_MERGE_TARGET, "value"),
)
def on_pick(picks: list[Any], target: int | None) -> tuple[Any, ...]:
    """The ticked bugs are the targets on offer; merging needs two."""
    picked = logic.picked_bugs(picks)
    options = [{"label": f"#{bug_id}", "value": bug_id} for bug_id in picked]
    chosen = target if target in picked else (picked[0] if picked else None)
    return options, chosen, len(picked) < 2


@callback(
    Output(ids.BUGS_MERGE_RESULT, "children"),
    Output(ids.BUGS_URL, "href"),
    Input(ids.BUGS_MERGE, "n_clicks"),
    State(ids.BUGS_MERGE_TARGET, "value"),
    State({"type": ids.BUGS_PICK, "bug": ALL}, "value"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def on_merge(
    _n: Any, target: int | None, picks: list[Any], lang: Any, token: str | None
) -> tuple[Any, Any]:
    """Merge the ticked bugs into the chosen one, then open it (its history shows the merge)."""
    if not acted():
        return dash.no_update, dash.no_update
    lang = lang_of(lang)
    into, merged = logic.merge_choice(logic.picked_bugs(picks), target)
    if into is None:
        return t(lang, "merge_pick"), dash.no_update
    _, error = attempt(lambda: api.current().merge_bugs(into, merged, token))
    if error is not None:
        return error_box(lang, error), dash.no_update
    return "", f"/bugs/{into}"
