"""Bug detail: everything the bug has, the legal status moves, Repair, and the repair timeline
(polled while a repair runs).

The page itself holds the bug; what grows with its occurrences comes after, each from a small
search of its own: the chart (buckets over the bug's life), the environments and versions seen,
and the occurrences in Discover's table (documents.py), a block at a time, a row opened whole
when clicked. The most frequent bug of a million events has ~90,000 of them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

from client.http import ApiError
from dashboards import api, documents, ids, logic
from dashboards.components import (
    DIALOG_OPEN,
    acted,
    attempt,
    bar_strip,
    chips,
    diff_view,
    error_box,
    kv_table,
    repair_state,
    status_badge,
    table,
)
from dashboards.i18n import lang_of, t

dash.register_page(__name__, path_template="/bugs/<bug_id>", title="Log Center · Bug", order=1)

POLL_MS = 3_000
#: The occurrences table's columns (project and type are the bug's own).
COLUMNS = ("timestamp", "level", "environment", "version", "message")


def _missing(bug_id: str | None, error: ApiError | None, lang: str) -> html.Div:
    """No such bug; one merged into another leads there."""
    target = error.merged_into if error is not None else None
    if target is None:
        return html.Div(t(lang, "bug_not_found", id=bug_id), className="alert error")
    link = dcc.Link(f"#{target}", href=f"/bugs/{target}", id=ids.BUG_MERGED_INTO)
    return html.Div([t(lang, "bug_merged", id=bug_id), " ", link], className="alert merged")


def _now() -> datetime:
    return datetime.now(UTC)


def layout(
    bug_id: str | None = None, lang: str | None = None, token: str | None = None, **_: Any
) -> html.Div:
    lang = lang_of(lang)
    try:
        number = int(bug_id or "")
    except ValueError:
        number = 0
    bug, error = attempt(lambda: api.current().bug(number, token))
    back = dcc.Link(t(lang, "back_to_list"), href="/", className="back")
    if error is not None and error.status != 404:
        return html.Div([back, error_box(lang, error)], className="page")
    if bug is None:
        return html.Div([back, _missing(bug_id, error, lang)], className="page")
    reports = _reports(number, token)
    running = logic.repair_in_progress(bug.get("status"), None, len(reports), _now())
    return html.Div(
        [
            dcc.Store(id=ids.BUG_ID, data=number),
            dcc.Store(id=ids.BUG_RELOAD, data=0),
            dcc.Store(id=ids.BUG_STATUS_SHOWN, data=bug.get("status")),
            dcc.Store(id=ids.BUG_REPAIR_PENDING),
            dcc.Interval(id=ids.BUG_POLL, interval=POLL_MS, disabled=not running),
            back,
            html.Div(main(bug, lang), id=ids.BUG_MAIN),
            occurrence_table(logic.bug_window(bug, _now()), lang),
            html.Section(
                [
                    html.H3(t(lang, "actions")),
                    html.Div(actions(number, lang, token), id=ids.BUG_ACTIONS),
                    html.Div(
                        [
                            dcc.Textarea(
                                id=ids.BUG_REASON,
                                placeholder=t(lang, "reason_label"),
                                className="input reason",
                            ),
                            dcc.Input(
                                id=ids.BUG_NOTE,
                                placeholder=t(lang, "note_label"),
                                className="input note",
                            ),
                            dcc.Input(
                                id=ids.BUG_FIXED_VERSION,
                                placeholder=t(lang, "fixed_version_label"),
                                className="input note",
                            ),
                        ],
                        className="move-fields",
                    ),
                    html.Div(
                        [
                            html.Button(
                                t(lang, "repair"), id=ids.BUG_REPAIR, className="btn primary"
                            ),
                            html.Div(repair_off(lang, token), id=ids.BUG_REPAIR_OFF),
                        ],
                        className="repair-row",
                    ),
                    html.Div(id=ids.BUG_MESSAGE, className="messages"),
                ],
                className="card actions-card",
            ),
            html.Section(
                [
                    html.H3(t(lang, "repair_timeline")),
                    html.Div(repair_timeline(reports, lang), id=ids.BUG_TIMELINE),
                ],
                className="card",
            ),
        ],
        className="page page-bug",
    )


def repair_off(lang: str, token: str | None) -> Any:
    """Next to Repair: why bugs are not repaired without a click, when they are not."""
    status, _ = attempt(lambda: api.current().repair_status(token))
    return repair_state(lang, status, when_on=False)


def _reports(bug_id: int, token: str | None) -> list[dict[str, Any]]:
    data, _ = attempt(lambda: api.current().bug_reports(bug_id, token))
    return list((data or {}).get("reports", []))


def main(bug: dict[str, Any], lang: str) -> list[Any]:
    """Header, facts, message, stack, context, occurrences chart and history of one bug."""
    location = f"{bug.get('file_path') or '?'}:{bug.get('line_number') or '?'}"
    head: list[Any] = [
        html.H2([f"#{bug['id']} ", html.Span(bug.get("error_type"), className="mono")]),
        status_badge(bug.get("status")),
    ]
    if bug.get("regression_count"):
        head.append(
            html.Span(
                f"↻ {t(lang, 'regression')} ×{bug['regression_count']}",
                className="regression-mark big",
            )
        )
    facts = [
        (t(lang, "project"), bug.get("project_id")),
        (t(lang, "source"), bug.get("source")),
        (t(lang, "environment"), bug.get("environment")),
        (t(lang, "level"), bug.get("level")),
        (t(lang, "file_line"), html.Span(location, className="mono")),
        (t(lang, "count"), bug.get("count")),
        (t(lang, "first_seen"), logic.short_time(bug.get("first_seen"))),
        (t(lang, "last_seen"), logic.short_time(bug.get("last_seen"))),
        (t(lang, "version"), bug.get("version") or ""),
        (t(lang, "newest_version"), bug.get("newest_version") or ""),
        (t(lang, "fixed_version"), bug.get("fixed_version") or ""),
        (t(lang, "commit"), html.Span(bug.get("commit_hash") or "", className="mono")),
        (t(lang, "regressions"), bug.get("regression_count", 0)),
    ]
    parts: list[Any] = [
        html.Div(head, className="bug-head"),
        html.Pre(bug.get("message"), className="message-box"),
    ]
    if bug.get("status") == "FIX_FAILED":
        parts.append(
            html.Div(
                [html.B(t(lang, "failure_reason") + ": "), bug.get("failure_reason")],
                className="alert failure-reason",
            )
        )
    parts += [
        html.Div([kv_table(facts, "kv facts"), occurrences(bug, lang)], className="two-col"),
        html.Details(
            [
                html.Summary(t(lang, "stack_trace")),
                html.Pre("\n".join(bug.get("stack_trace") or []), className="stack"),
            ],
            open=True,
            id=ids.BUG_STACK,
            className="card",
        ),
        html.Details(
            [html.Summary(t(lang, "context")), kv_table(logic.context_rows(bug.get("context")))],
            open=True,
            className="card",
        ),
        html.Section(
            [html.H3(t(lang, "status_history")), history(bug.get("status_history"), lang)],
            className="card",
        ),
    ]
    return parts


def occurrences(bug: dict[str, Any], lang: str) -> html.Div:
    """Occurrences-over-time chart plus the environments and versions seen, both filled by
    their own search once the page shows (`chart`, `seen`)."""
    return html.Div(
        [
            dcc.Store(id=ids.BUG_WINDOW, data=logic.bug_window(bug, _now())),
            html.H4(t(lang, "occurrences")),
            html.Div(bar_strip([], None), id=ids.BUG_CHART, className="chart"),
            html.Div(id=ids.BUG_SEEN),
        ],
        className="occurrences",
    )


def occurrence_table(window: dict[str, Any], lang: str) -> html.Section:
    """Every occurrence, newest first, in Discover's table; outside BUG_MAIN, so a status
    move does not scroll it back to the top."""
    return html.Section(
        [
            dcc.Store(id=ids.BUG_DOCS_STATE, data=logic.bug_docs_state(window)),
            dcc.Store(id=ids.BUG_PAGING, data={}),
            html.Div(
                [html.H3(t(lang, "recent_occurrences")), html.Span(t(lang, "open_doc_hint"))],
                className="hits-row muted",
            ),
            documents.grid(ids.BUG_GRID, COLUMNS, height=360),
            html.Div(id=ids.BUG_DOC),
        ],
        className="card recent",
    )


@callback(
    Output(ids.BUG_CHART, "children"),
    Input(ids.BUG_WINDOW, "data"),
    State(ids.TOKEN, "data"),
)
def chart(window: dict[str, Any] | None, token: str | None) -> html.Div:
    """The bug's occurrences over its life, as plain bars: the page loads no chart library."""
    if not window:
        return bar_strip([], None)
    data, _ = attempt(lambda: api.current().search_events(logic.bug_chart_body(window), token))
    return bar_strip((data or {}).get("histogram", []), (data or {}).get("interval"))


@callback(
    Output(ids.BUG_SEEN, "children"),
    Input(ids.BUG_WINDOW, "data"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
)
def seen(window: dict[str, Any] | None, lang: Any, token: str | None) -> Any:
    lang = lang_of(lang)
    if not window:
        return ""
    data, error = attempt(lambda: api.current().search_events(logic.bug_seen_body(window), token))
    if error is not None or data is None:
        return error_box(lang, error) if error else ""
    facets = data.get("facets", {})
    rows = [
        (t(lang, f"{name}s_seen"), chips(f"{f['value'] or '—'} ({f['count']})" for f in values))
        for name, values in (("environment", facets.get("environment", [])),
                             ("version", facets.get("version", [])))
    ]  # fmt: skip
    return kv_table(rows, "kv seen")


@callback(
    Output(ids.BUG_GRID, "getRowsResponse"),
    Output(ids.BUG_PAGING, "data"),
    Input(ids.BUG_GRID, "getRowsRequest"),
    State(ids.BUG_DOCS_STATE, "data"),
    State(ids.BUG_PAGING, "data"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def rows(request: dict[str, Any] | None, state: Any, paging: Any, token: str | None) -> Any:
    """One block of the bug's occurrences, as small rows (no stack traces)."""
    if not request:
        return dash.no_update, dash.no_update
    response, paging, _ = documents.block(request, state or {}, paging or {}, token)
    return response, paging


# A clicked row opens the whole occurrence below the table, fetched then.
documents.open_rows(ids.BUG_GRID, ids.BUG_DOC, ids.BUG_DOC_CLOSE)


def history(changes: list[dict[str, Any]] | None, lang: str) -> Any:
    keys = ("hist_at", "hist_from", "hist_to", "hist_reason", "hist_by", "fixed_version")
    headers = [t(lang, k) for k in keys]
    rows = []
    for change in changes or []:
        mark = (
            [html.Span(f" ↻ {t(lang, 'regression')}", className="regression-mark")]
            if logic.is_regression(change)
            else []
        )
        rows.append(
            html.Tr(
                [
                    html.Td(logic.short_time(change.get("at")), className="nowrap"),
                    html.Td(status_badge(change.get("from")) if change.get("from") else "—"),
                    html.Td([status_badge(change.get("to")), *mark]),
                    html.Td(change.get("reason") or ""),
                    html.Td(change.get("by") or ""),
                    html.Td(change.get("fixed_version") or "", className="mono"),
                ]
            )
        )
    return table(headers, rows, class_name="grid history")


def actions(bug_id: int, lang: str, token: str | None) -> Any:
    data, error = attempt(lambda: api.current().transitions(bug_id, token))
    if error is not None or data is None:
        return error_box(lang, error) if error else ""
    moves = logic.allowed_moves(data)
    if not moves:
        return html.P(t(lang, "no_moves"), className="muted")
    buttons = [
        html.Button(
            [t(lang, "move_to") + " ", status_badge(status)],
            id={"type": ids.BUG_MOVE, "status": status},
            className="btn move needs-reason" if needs_reason else "btn move",
        )
        for status, needs_reason in moves
    ]
    return html.Div(buttons, className="moves")


def repair_timeline(reports: list[dict[str, Any]], lang: str) -> Any:
    if not reports:
        return html.P(t(lang, "no_reports"), className="muted")
    return html.Ol([_round(r, lang) for r in logic.timeline(reports)], className="timeline")


def _round(report: Mapping[str, Any], lang: str) -> html.Li:
    passed = bool(report.get("passed"))
    meta = " · ".join(
        str(x)
        for x in (
            report.get("phase"),
            report.get("model"),
            f"{report.get('tokens', 0)} tokens",
            f"${report.get('cost', 0):.4f}",
            f"{report.get('duration', 0):.1f}s",
            logic.short_time(report.get("created_at")),
        )
        if x
    )
    parts: list[Any] = [
        html.Div(
            [
                html.B(t(lang, "round", round=report.get("round", "?"))),
                html.Span(
                    t(lang, "passed" if passed else "failed"),
                    className="result passed" if passed else "result failed",
                ),
                html.Span(meta, className="muted"),
            ],
            className="round-head",
        ),
    ]
    if report.get("failure_reason"):
        parts.append(
            html.Div(
                [html.B(t(lang, "failure_reason") + ": "), report["failure_reason"]],
                className="alert failure-reason",
            )
        )
    if report.get("analysis"):
        parts += [
            html.H5(t(lang, "analysis")),
            dcc.Markdown(report["analysis"], className="analysis"),
        ]
    if report.get("changed_files"):
        parts += [
            html.H5(t(lang, "changed_files")),
            html.Div(chips(report["changed_files"], "chip mono")),
        ]
    if report.get("diff"):
        parts += [html.H5(t(lang, "diff")), diff_view(report["diff"])]
    if report.get("test_output") or report.get("test_command"):
        parts.append(
            html.Details(
                [
                    html.Summary(f"{t(lang, 'test_output')}: {report.get('test_command') or ''}"),
                    html.Pre(report.get("test_output") or "", className="test-output"),
                ],
                open=not passed,
            )
        )
    if report.get("branch") or report.get("commit"):
        parts.append(
            html.Div(
                f"{report.get('branch') or ''} {report.get('commit') or ''}", className="mono muted"
            )
        )
    return html.Li(parts, className=f"round {'passed' if passed else 'failed'}")


@callback(
    Output(ids.BUG_MESSAGE, "children"),
    Output(ids.BUG_RELOAD, "data"),
    Output(ids.TOKEN_DIALOG, "className", allow_duplicate=True),
    Input({"type": ids.BUG_MOVE, "status": ALL}, "n_clicks"),
    State(ids.BUG_ID, "data"),
    State(ids.BUG_REASON, "value"),
    State(ids.BUG_NOTE, "value"),
    State(ids.BUG_FIXED_VERSION, "value"),
    State(ids.BUG_RELOAD, "data"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def move(
    _clicks: Any,
    bug_id: int,
    reason: str | None,
    note: str | None,
    fixed_version: str | None,
    reload: int,
    lang: Any,
    token: str | None,
) -> tuple[Any, Any, Any]:
    """Send a status move; FIX_FAILED without a reason is stopped here, before the API."""
    if not acted():
        return dash.no_update, dash.no_update, dash.no_update
    lang, target = lang_of(lang), ctx.triggered_id["status"]
    problem = logic.validate_move(target, reason)
    if problem:
        return html.Div(t(lang, problem), className="alert error"), dash.no_update, dash.no_update
    version = logic.fixed_version_of(target, fixed_version)
    _, error = attempt(
        lambda: api.current().change_status(bug_id, target, reason, note, token, version)
    )
    if error is not None:
        return (
            error_box(lang, error),
            dash.no_update,
            DIALOG_OPEN if error.needs_token else dash.no_update,
        )
    return (
        html.Div(t(lang, "moved", status=target), className="alert ok"),
        (reload or 0) + 1,
        dash.no_update,
    )


@callback(
    Output(ids.BUG_MESSAGE, "children", allow_duplicate=True),
    Output(ids.BUG_REPAIR_PENDING, "data"),
    Output(ids.TOKEN_DIALOG, "className", allow_duplicate=True),
    Input(ids.BUG_REPAIR, "n_clicks"),
    State(ids.BUG_ID, "data"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def repair(_clicks: Any, bug_id: int, lang: Any, token: str | None) -> tuple[Any, Any, Any]:
    if not acted():
        return dash.no_update, dash.no_update, dash.no_update
    lang = lang_of(lang)
    reports = _reports(bug_id, token)
    job, error = attempt(lambda: api.current().start_repair(bug_id, token))
    if error is not None:
        return (
            error_box(lang, error),
            dash.no_update,
            DIALOG_OPEN if error.needs_token else dash.no_update,
        )
    pending = {"at": logic.iso(_now()), "reports": len(reports)}
    message = t(lang, "repair_queued", job=(job or {}).get("job_id", "?"))
    return html.Div(message, className="alert ok"), pending, dash.no_update


@callback(
    Output(ids.BUG_MAIN, "children"),
    Output(ids.BUG_ACTIONS, "children"),
    Output(ids.BUG_TIMELINE, "children"),
    Output(ids.BUG_POLL, "disabled"),
    Output(ids.BUG_STATUS_SHOWN, "data"),
    Input(ids.BUG_RELOAD, "data"),
    Input(ids.BUG_POLL, "n_intervals"),
    Input(ids.BUG_REPAIR_PENDING, "data"),
    State(ids.BUG_ID, "data"),
    State(ids.BUG_STATUS_SHOWN, "data"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def reload(
    _reload: Any,
    _n: Any,
    pending: dict[str, Any] | None,
    bug_id: int,
    shown: str | None,
    lang: Any,
    token: str | None,
) -> tuple[Any, ...]:
    """After a move, and every few seconds while a repair runs: timeline always, the rest when
    the status changed (so an opened stack trace stays as the reader left it)."""
    lang = lang_of(lang)
    bug, error = attempt(lambda: api.current().bug(bug_id, token))
    if error is not None or bug is None:
        return dash.no_update, dash.no_update, error_box(lang, error) if error else "", True, shown
    reports = _reports(bug_id, token)
    running = logic.repair_in_progress(bug.get("status"), pending, len(reports), _now())
    changed = ctx.triggered_id == ids.BUG_RELOAD or bug.get("status") != shown
    return (
        main(bug, lang) if changed else dash.no_update,
        actions(bug_id, lang, token) if changed else dash.no_update,
        repair_timeline(reports, lang),
        not running,
        bug.get("status"),
    )
