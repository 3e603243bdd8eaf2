"""Projects: an editable grid; each edit is saved through PUT /api/v1/projects/{project_id}.

Empty repo_url / local_path cells are red: the repair agent needs both.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, html

from dashboards import api, ids, logic
from dashboards.components import DIALOG_OPEN, acted, attempt, error_box
from dashboards.i18n import lang_of, t
from store import vocabulary

dash.register_page(__name__, path="/projects", title="Log Center · Projects", order=3)

#: An empty required cell gets the `cell-missing` class (red, see assets/style.css).
MISSING_RULE = {"cell-missing": "params.value == null || String(params.value).trim() === ''"}


def columns(lang: str) -> list[dict[str, Any]]:
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
        col("local_path", minWidth=220),
        col("description", minWidth=200),
        col("test_command", minWidth=160),
        col("default_branch", minWidth=100),
        col("auto_repair", cellDataType="boolean", minWidth=110),
    ]


def layout(lang: str | None = None, token: str | None = None, **_: Any) -> html.Div:
    lang = lang_of(lang)
    rows, error = _rows(token)
    return html.Div(
        [
            html.H2(t(lang, "projects_title")),
            html.P(t(lang, "projects_help"), className="muted"),
            html.Div(error_box(lang, error) if error else "", id=ids.PROJECTS_MESSAGE),
            dag.AgGrid(
                id=ids.PROJECTS_GRID,
                rowData=rows,
                columnDefs=columns(lang),
                defaultColDef={"resizable": True, "sortable": True, "filter": True},
                getRowId="params.data.project_id",
                columnSize="responsiveSizeToFit",
                dashGridOptions={
                    "singleClickEdit": False,
                    "stopEditingWhenCellsLoseFocus": True,
                    "domLayout": "autoHeight",
                },
                className="ag-theme-quartz projects-grid",
            ),
        ],
        className="page page-projects",
    )


def _rows(token: str | None) -> tuple[list[dict[str, Any]], Any]:
    data, error = attempt(lambda: api.current().projects(token))
    return list((data or {}).get("projects", [])), error


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
