"""Projects: an editable grid; each edit is saved through PUT /api/v1/projects/{project_id}.

Red cells are what the repair agent needs and cannot find: an empty repo_url / local_path, no
toolchain recognised at the last repair, tools missing on the worker. Above the grid: whether
bugs are repaired without a click, and if not why.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, html

from dashboards import api, ids, logic
from dashboards.components import DIALOG_OPEN, acted, attempt, error_box, repair_state
from dashboards.i18n import lang_of, t
from store import vocabulary

dash.register_page(__name__, path="/projects", title="Log Center · Projects", order=3)

#: An empty required cell gets the `cell-missing` class (red, see assets/style.css).
MISSING_RULE = {"cell-missing": "params.value == null || String(params.value).trim() === ''"}
#: Red when a worker looked and recognised no toolchain; when it found tools missing.
NO_TOOLCHAIN_RULE = {"cell-missing": "params.data.toolchain_state === 'none'"}
MISSING_TOOLS_RULE = {"cell-missing": "params.data.toolchain_missing !== ''"}
#: Red while a report's repo_url was ignored and no repository is configured.
WARNING_RULE = {"cell-missing": "!!params.value"}


def _labels(lang: str, default_on: bool) -> dict[str, str]:
    state = t(lang, "auto_on" if default_on else "auto_off")
    return {
        "default": t(lang, "auto_default", state=state),
        "on": t(lang, "auto_on"),
        "off": t(lang, "auto_off"),
    }


def _shown(labels: dict[str, str], fallback: str = "params.value") -> dict[str, str]:
    """A valueFormatter showing `labels[value]` (JSON-quoted into the grid's expression)."""
    return {"function": f"({json.dumps(labels, ensure_ascii=False)})[params.value] || {fallback}"}


def _retention_shown(lang: str) -> dict[str, str]:
    """A valueFormatter: a project's own retention, or the install's default it follows, and
    the maximum when that caps the project's own."""
    default = json.dumps(t(lang, "retention_default", days="{days}"), ensure_ascii=False)
    capped = json.dumps(t(lang, "retention_capped", days="{days}", max="{max}"), ensure_ascii=False)
    return {
        "function": "params.value == null ? "
        f"{default}.replace('{{days}}', params.data.effective_retention_days) : "
        "params.value > params.data.effective_retention_days ? "
        f"{capped}.replace('{{days}}', params.value)"
        ".replace('{max}', params.data.effective_retention_days) : String(params.value)"
    }


def columns(lang: str, default_on: bool = True) -> list[dict[str, Any]]:
    def col(name: str, **extra: Any) -> dict[str, Any]:
        spec = {
            "field": name,
            "headerName": t(lang, f"col_{name}"),
            "editable": name in vocabulary.PROJECT_GRID_EDITABLE,
        }
        if name in vocabulary.PROJECT_REQUIRED:
            spec["cellClassRules"] = MISSING_RULE
        return {**spec, **extra}

    return [
        col("project_id", pinned="left", minWidth=140),
        col("name", minWidth=140),
        col("repo_url", minWidth=260),
        col("repo_url_warning", cellClassRules=WARNING_RULE, tooltipField="repo_url_warning"),
        col("local_path", minWidth=220),
        col("description", minWidth=200),
        col("test_command", minWidth=160),
        col("default_branch", minWidth=100),
        col(
            "auto_repair",
            cellDataType="text",
            cellEditor="agSelectCellEditor",
            cellEditorParams={"values": list(logic.AUTO_REPAIR_CHOICES)},
            valueFormatter=_shown(_labels(lang, default_on)),
            minWidth=120,
        ),
        col(
            "retention_days",
            cellDataType="number",
            cellEditor="agNumberCellEditor",
            cellEditorParams={"min": 1, "precision": 0},
            valueFormatter=_retention_shown(lang),
            minWidth=130,
        ),
        col(
            "toolchain",
            cellClassRules=NO_TOOLCHAIN_RULE,
            valueFormatter={
                "function": "params.data.toolchain_state === 'none' ? "
                f"{json.dumps(t(lang, 'toolchain_none'), ensure_ascii=False)} : params.value"
            },
            tooltipField="toolchain_problem",
            minWidth=150,
        ),
        col("toolchain_test_command", minWidth=180),
        col("toolchain_missing", cellClassRules=MISSING_TOOLS_RULE, minWidth=120),
        col(
            "grouping",
            cellEditor="agSelectCellEditor",
            cellEditorParams={"values": ["", *vocabulary.GROUPINGS]},
            valueFormatter={
                "function": f"params.value || {json.dumps(vocabulary.DEFAULT_GROUPING)}"
            },
            minWidth=100,
        ),
        # What a Sentry SDK is given to report here (read-only; selectable to copy).
        col("dsn", minWidth=320, tooltipField="dsn"),
    ]


def layout(lang: str | None = None, token: str | None = None, **_: Any) -> html.Div:
    lang = lang_of(lang)
    rows, error = _rows(token)
    status = attempt(lambda: api.current().repair_status(token))[0]
    default_on = bool((status or {}).get("auto_repair_default", True))
    return html.Div(
        [
            html.H2(t(lang, "projects_title")),
            html.P(t(lang, "projects_help"), className="muted"),
            html.Div(repair_state(lang, status, when_on=True), id=ids.PROJECTS_REPAIR_STATE),
            html.Div(error_box(lang, error) if error else "", id=ids.PROJECTS_MESSAGE),
            dag.AgGrid(
                id=ids.PROJECTS_GRID,
                rowData=rows,
                columnDefs=columns(lang, default_on),
                defaultColDef={"resizable": True, "sortable": True, "filter": True},
                getRowId="params.data.project_id",
                columnSize="responsiveSizeToFit",
                dashGridOptions={
                    "singleClickEdit": False,
                    "stopEditingWhenCellsLoseFocus": True,
                    "domLayout": "autoHeight",
                    # A few dozen rows: render every column, also those scrolled out of view.
                    "suppressColumnVirtualisation": True,
                },
                className="ag-theme-quartz projects-grid",
            ),
        ],
        className="page page-projects",
    )


def _rows(token: str | None) -> tuple[list[dict[str, Any]], Any]:
    data, error = attempt(lambda: api.current().projects(token))
    return [logic.project_row(p) for p in (data or {}).get("projects", [])], error


@callback(
    Output(ids.PROJECTS_MESSAGE, "children"),
    Output(ids.PROJECTS_GRID, "rowData"),
    Output(ids.TOKEN_DIALOG, "className", allow_duplicate=True),
    Input(ids.PROJECTS_GRID, "cellValueChanged"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def save(changes: list[dict[str, Any]] | None, lang: Any, token: str | None) -> tuple[Any, ...]:
    """Save each edited cell; on a refusal say why and show the stored values again."""
    if not acted():
        return dash.no_update, dash.no_update, dash.no_update
    lang = lang_of(lang)
    notes: list[Any] = []
    failed = needs_token = False
    for event in changes or []:
        change = logic.project_change(event)
        if change is None:
            continue
        project_id, body = change
        field = next(iter(body))
        _, error = attempt(partial(api.current().update_project, project_id, body, token))
        if error is None:
            notes.append(
                html.Div(
                    t(lang, "saved", project=project_id, field=field), className="alert ok saved"
                )
            )
            continue
        failed, needs_token = True, needs_token or error.needs_token
        text = t(lang, "token_needed") if error.needs_token else error.detail
        notes.append(
            html.Div(
                t(lang, "save_failed", project=project_id, field=field, detail=text),
                className="alert error",
            )
        )
    rows = _rows(token)[0] if failed else dash.no_update
    return notes, rows, DIALOG_OPEN if needs_token else dash.no_update
