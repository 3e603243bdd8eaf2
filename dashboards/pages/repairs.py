"""Repairs: every repair report, filterable by project and result, linking to its bug."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html

from dashboards import api, ids, logic
from dashboards.components import acted, attempt, error_box, table
from dashboards.i18n import lang_of, t

dash.register_page(__name__, path="/repairs", title="Log Center · Repairs", order=2)

PAGE_SIZE = 50
#: Result filter value -> the API's `passed` parameter.
RESULTS = {"all": None, "passed": "true", "failed": "false"}


def layout(lang: str | None = None, token: str | None = None, **_: Any) -> html.Div:
    lang = lang_of(lang)
    projects, _error = attempt(lambda: api.current().projects(token))
    options = [{"label": t(lang, "all_projects"), "value": ""}] + [
        {"label": p.get("name") or p["project_id"], "value": p["project_id"]}
        for p in (projects or {}).get("projects", [])
    ]
    return html.Div(
        [
            html.H2(t(lang, "repairs_title")),
            dcc.Store(id=ids.REPAIRS_PAGE, data=1),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.REPAIRS_PROJECT,
                        options=options,
                        value="",
                        clearable=False,
                        className="project-filter",
                    ),
                    dcc.RadioItems(
                        id=ids.REPAIRS_RESULT,
                        options=[{"label": t(lang, f"result_{k}"), "value": k} for k in RESULTS],
                        value="all",
                        inline=True,
                        className="radio",
                    ),
                ],
                className="toolbar",
            ),
            html.Div(id=ids.REPAIRS_TABLE),
            html.Div(
                [
                    html.Button(t(lang, "prev"), id=ids.REPAIRS_PREV, className="btn"),
                    html.Span(id=ids.REPAIRS_TOTAL, className="muted"),
                    html.Button(t(lang, "next"), id=ids.REPAIRS_NEXT, className="btn"),
                ],
                className="pager",
            ),
        ],
        className="page page-repairs",
    )


@callback(
    Output(ids.REPAIRS_PAGE, "data"),
    Input(ids.REPAIRS_PREV, "n_clicks"),
    Input(ids.REPAIRS_NEXT, "n_clicks"),
    Input(ids.REPAIRS_PROJECT, "value"),
    Input(ids.REPAIRS_RESULT, "value"),
    State(ids.REPAIRS_PAGE, "data"),
    prevent_initial_call=True,
)
def turn(_prev: Any, _next: Any, _project: Any, _result: Any, page: int) -> Any:
    if not acted():
        return dash.no_update
    if ctx.triggered_id == ids.REPAIRS_PREV:
        return max(1, page - 1)
    if ctx.triggered_id == ids.REPAIRS_NEXT:
        return page + 1
    return 1  # another filter: start over


@callback(
    Output(ids.REPAIRS_TABLE, "children"),
    Output(ids.REPAIRS_TOTAL, "children"),
    Output(ids.REPAIRS_PREV, "disabled"),
    Output(ids.REPAIRS_NEXT, "disabled"),
    Input(ids.REPAIRS_PAGE, "data"),
    State(ids.REPAIRS_PROJECT, "value"),
    State(ids.REPAIRS_RESULT, "value"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
)
def show(page: int, project: str, result: str, lang: Any, token: str | None) -> tuple[Any, ...]:
    lang = lang_of(lang)
    params = {"project_id": project, "passed": RESULTS.get(result), "page": page, "size": PAGE_SIZE}
    data, error = attempt(lambda: api.current().repair_reports(params, token))
    if error is not None or data is None:
        return error_box(lang, error) if error else "", "", True, True
    pages = logic.page_count(data["total"], PAGE_SIZE)
    total = t(lang, "total_reports", total=data["total"])
    text = f"{total} · {t(lang, 'page_of', page=page, pages=pages)}"
    return report_table(data["reports"], lang), text, page <= 1, page >= pages


def report_table(reports: list[dict[str, Any]], lang: str) -> Any:
    if not reports:
        return html.P(t(lang, "no_results"), className="muted empty")
    headers = [
        t(lang, k)
        for k in (
            "col_created",
            "col_bug",
            "col_project",
            "col_round",
            "col_phase",
            "col_result",
            "failure_reason",
            "col_model",
            "col_cost",
            "col_duration",
        )
    ]
    rows = [
        html.Tr(
            [
                html.Td(logic.short_time(r.get("created_at")), className="nowrap"),
                html.Td(dcc.Link(f"#{r['bug_id']}", href=f"/bugs/{r['bug_id']}")),
                html.Td(r.get("project_id")),
                html.Td(r.get("round")),
                html.Td(r.get("phase") or ""),
                html.Td(
                    html.Span(
                        t(lang, "passed" if r.get("passed") else "failed"),
                        className="result passed" if r.get("passed") else "result failed",
                    )
                ),
                html.Td(
                    logic.truncate(r.get("failure_reason"), 200), className="failure-reason-cell"
                ),
                html.Td(r.get("model") or "", className="mono"),
                html.Td(f"{r.get('tokens', 0)} / ${r.get('cost', 0):.4f}", className="num"),
                html.Td(f"{r.get('duration', 0):.1f}s", className="num"),
            ],
            className="report-row",
        )
        for r in reports
    ]
    return table(headers, rows, class_name="grid reports")
