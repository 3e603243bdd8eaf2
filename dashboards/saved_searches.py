"""Discover's view bar: saved searches (save, load, delete through /api/v1/searches), the share
link and the download links, all made from the view the URL holds (dashboards/view.py).

Loading a saved search only sets the page's URL: Discover restores everything from the URL, as
it does for back and forward, so a loaded search and a shared link open the same view.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html

from dashboards import api, ids, view
from dashboards.components import acted, attempt, downloads, error_box
from dashboards.i18n import lang_of, t


def panel(state: dict[str, Any], lang: str) -> html.Div:
    """The bar under the toolbar: name + Save, the saved list + Delete, share, downloads."""
    return html.Div(
        [
            dcc.Input(
                id=ids.SAVED_NAME,
                placeholder=t(lang, "saved_name"),
                className="input saved-name",
            ),
            html.Button(t(lang, "saved_save"), id=ids.SAVED_SAVE, className="btn"),
            dcc.Dropdown(
                id=ids.SAVED_LIST,
                options=[],
                placeholder=t(lang, "saved_open"),
                clearable=True,
                className="saved-list",
            ),
            html.Button(t(lang, "saved_delete"), id=ids.SAVED_DELETE, className="btn"),
            dcc.Input(
                id=ids.SHARE_LINK,
                readOnly=True,
                placeholder=t(lang, "share_link"),
                className="input share-link",
            ),
            html.Button(t(lang, "share_copy"), id=ids.SHARE_COPY, className="btn"),
            *downloads(
                ids.DISCOVER_DOWNLOAD,
                {fmt: view.export_href(state, fmt) for fmt in view.FORMATS},
                lang,
            ),
            html.Span(id=ids.SAVED_MESSAGE, className="saved-message"),
        ],
        className="toolbar view-bar",
    )


@callback(
    Output({"type": ids.DISCOVER_DOWNLOAD, "format": ALL}, "href"),
    Input(ids.DISCOVER_STATE, "data"),
    prevent_initial_call=True,
)
def download_links(state: dict[str, Any]) -> list[str]:
    return [view.export_href(state or {}, fmt) for fmt in view.FORMATS]


# The share link is the page's whole URL; Copy puts it on the clipboard (selecting it first,
# for browsers that allow the clipboard on secure origins only).
clientside_callback(
    """function (search) {
        return window.location.origin + window.location.pathname + (search || "");
    }""",
    Output(ids.SHARE_LINK, "value"),
    Input(ids.DISCOVER_URL, "search"),
)
clientside_callback(
    """function (n, link) {
        const box = document.getElementById("""
    + json.dumps(ids.SHARE_LINK)
    + """);
        if (box) { box.select(); }
        if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(link || "");
        } else {
            document.execCommand("copy");
        }
        return window.dash_clientside.no_update;
    }""",
    Output(ids.SHARE_COPY, "title"),
    Input(ids.SHARE_COPY, "n_clicks"),
    State(ids.SHARE_LINK, "value"),
    prevent_initial_call=True,
)


@callback(
    Output(ids.SAVED_LIST, "options"),
    Input(ids.SAVED_LIST, "id"),
    State(ids.TOKEN, "data"),
)
def listed(_id: Any, token: str | None) -> list[dict[str, Any]]:
    """The saved searches when the page opens (`save_or_delete` lists them again)."""
    return _options(token)


def _options(token: str | None) -> list[dict[str, Any]]:
    """The saved searches by name, as the list's choices."""
    data, _ = attempt(lambda: api.current().searches(token))
    found = (data or {}).get("searches", [])
    return [{"label": s["name"], "value": s["id"]} for s in sorted(found, key=lambda s: s["name"])]


#: The list's choices and value, unchanged.
_KEEP = (dash.no_update, dash.no_update)


@callback(
    Output(ids.SAVED_MESSAGE, "children"),
    Output(ids.SAVED_LIST, "options", allow_duplicate=True),
    Output(ids.SAVED_LIST, "value"),
    Input(ids.SAVED_SAVE, "n_clicks"),
    Input(ids.SAVED_DELETE, "n_clicks"),
    State(ids.SAVED_NAME, "value"),
    State(ids.SAVED_LIST, "value"),
    State(ids.SAVED_LIST, "options"),
    State(ids.DISCOVER_STATE, "data"),
    State(ids.DISCOVER_COLUMNS, "value"),
    State(ids.LANG, "data"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def save_or_delete(
    _save: Any,
    _delete: Any,
    name: str | None,
    chosen_id: Any,
    options: Any,
    state: Any,
    columns: Any,
    lang: Any,
    token: str | None,
) -> tuple[Any, Any, Any]:
    """Save the current view under a name (a name already saved is replaced), or delete the
    saved search chosen in the list."""
    lang = lang_of(lang)
    if not acted():
        return dash.no_update, dash.no_update, dash.no_update
    client = api.current()
    if ctx.triggered_id == ids.SAVED_DELETE:
        if chosen_id is None:
            return html.Span(t(lang, "saved_pick"), className="muted"), *_KEEP
        _, error = attempt(lambda: client.delete_search(int(chosen_id), token))
        if error is not None:
            return error_box(lang, error), *_KEEP
        return html.Span(t(lang, "saved_deleted"), className="saved"), _options(token), None
    name = (name or "").strip()
    if not name:
        return html.Span(t(lang, "saved_need_name"), className="muted"), *_KEEP
    existing = next((o["value"] for o in options or [] if o["label"] == name), None)
    body = view.saved_body(name, state or {}, columns)
    saved, error = attempt(lambda: client.save_search(body, existing, token))
    if error is not None or saved is None:
        return (error_box(lang, error) if error else ""), *_KEEP
    done = html.Span(t(lang, "saved_done", name=name), className="saved")
    # The list's choice stays as it was: choosing the saved one opens it (and lets Delete act).
    return done, _options(token), dash.no_update


@callback(
    Output(ids.DISCOVER_URL, "search", allow_duplicate=True),
    Output(ids.SAVED_NAME, "value"),
    Input(ids.SAVED_LIST, "value"),
    State(ids.DISCOVER_URL, "search"),
    State(ids.TOKEN, "data"),
    prevent_initial_call=True,
)
def load(chosen_id: Any, search: str | None, token: str | None) -> tuple[Any, Any]:
    """A saved search chosen in the list opens as it was kept (query, pills, columns, range)."""
    if chosen_id is None or ctx.triggered_id != ids.SAVED_LIST:
        return dash.no_update, dash.no_update
    saved, _ = attempt(lambda: api.current().search(int(chosen_id), token))
    if not saved:
        return dash.no_update, dash.no_update
    url = view.saved_search(saved)
    same = parse_qs((search or "").lstrip("?")) == parse_qs(url.lstrip("?"))
    return (dash.no_update if same else url), saved["name"]
