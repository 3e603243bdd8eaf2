"""The Dash app: `create_app(settings)` builds it, `run(settings, host, port)` serves it.

Every page reads and writes through the HTTP API (client.http); nothing here touches the store.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dash
import flask
from dash import ALL, Input, Output, State, ctx, dcc, html

from client.http import ApiClient
from dashboards import download, ids
from dashboards.api import CONFIG_KEY
from dashboards.components import acted
from dashboards.i18n import default_lang, lang_of, t

if TYPE_CHECKING:
    from config.settings import Settings

HERE = Path(__file__).parent
#: Navigation: (key, path) in display order.
NAV = (
    ("bugs", "/"),
    ("discover", "/discover"),
    ("repairs", "/repairs"),
    ("alerts", "/alerts"),
    ("projects", "/projects"),
)

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the multi-page app pointed at `settings.api_url`."""
    if settings is None:
        from config.settings import get_settings

        settings = get_settings()
    app = dash.Dash(
        __package__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        serve_locally=True,
        title="Log Center",
        update_title=None,  # type: ignore[arg-type]  # None turns the title flicker off
        suppress_callback_exceptions=True,
        # Pages re-render in the chosen language; layouts read with the browser's token.
        routing_callback_inputs={
            "lang": Input(ids.LANG, "data"),
            "token": State(ids.TOKEN, "data"),
        },
    )
    app.server.config[CONFIG_KEY] = ApiClient(settings.api_url, attempts=1)
    # The token is asked for unless writes are open: a dashboard without one of its own may
    # still face an API that has one.
    token_required, configured = not settings.writes_open(), settings.default_language

    def layout() -> html.Div:
        # Built per page load: the default language follows the browser's Accept-Language.
        return _shell(token_required, default_lang(configured, _accept_language()))

    app.layout = layout
    download.register(app.server)
    _shell_callbacks(app)
    return app


def _accept_language() -> str | None:
    return flask.request.headers.get("Accept-Language") if flask.has_request_context() else None


def _shell(token_required: bool, lang: str) -> html.Div:
    nav = [
        dcc.Link(key, href=path, id={"type": ids.NAV_LINK, "index": key}, className="nav-link")
        for key, path in NAV
    ]
    return html.Div(
        [
            dcc.Store(id=ids.LANG_CHOICE, storage_type="local"),
            dcc.Store(id=ids.LANG_DEFAULT, data=lang),
            dcc.Store(id=ids.LANG, data=lang),
            dcc.Store(id=ids.TOKEN, storage_type="local"),
            dcc.Store(id=ids.TOKEN_COOKIE),
            dcc.Store(id="token-required", data=token_required),
            html.Header(
                [
                    dcc.Link("Log Center", href="/", className="brand"),
                    html.Nav(nav, id=ids.NAV),
                    html.Div(
                        [
                            html.Button("EN", id=ids.LANG_EN, className="lang"),
                            html.Button("中文", id=ids.LANG_ZH, className="lang"),
                            html.Button(id=ids.TOKEN_OPEN, className="token-open"),
                            html.Span(id=ids.TOKEN_STATE, className="token-state"),
                        ],
                        className="header-tools",
                    ),
                ],
                className="header",
            ),
            html.Div(
                html.Div(
                    [
                        html.P(id="token-prompt"),
                        dcc.Input(id=ids.TOKEN_INPUT, type="password", className="input"),
                        html.Button(id=ids.TOKEN_SAVE, className="btn primary"),
                        html.Button(id=ids.TOKEN_CLEAR, className="btn"),
                        html.Button("×", id=ids.TOKEN_CLOSE, className="btn close", title="close"),
                    ],
                    className="dialog-box",
                ),
                id=ids.TOKEN_DIALOG,
                className="dialog",
            ),
            html.Main(dash.page_container, className="main"),
        ],
        className="shell",
    )


def _shell_callbacks(app: dash.Dash) -> None:
    # The switch's choice, once made, wins over the default; the page says its language.
    app.clientside_callback(
        """function (choice, fallback) {
            const lang = choice === "en" || choice === "zh" ? choice : fallback;
            document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
            return lang;
        }""",
        Output(ids.LANG, "data"),
        Input(ids.LANG_CHOICE, "data"),
        State(ids.LANG_DEFAULT, "data"),
    )

    # Download links cannot send a header: the token goes to the dashboard's /download route
    # in a same-site cookie instead (dashboards/download.py).
    app.clientside_callback(
        f"""function (token) {{
            const base = "{download.TOKEN_COOKIE}=";
            const rest = "; path=/download; SameSite=Strict";
            document.cookie = token
                ? base + encodeURIComponent(token) + rest
                : base + rest + "; max-age=0";
            return window.dash_clientside.no_update;
        }}""",
        Output(ids.TOKEN_COOKIE, "data"),
        Input(ids.TOKEN, "data"),
    )

    @app.callback(
        Output(ids.LANG_CHOICE, "data"),
        Input(ids.LANG_EN, "n_clicks"),
        Input(ids.LANG_ZH, "n_clicks"),
        prevent_initial_call=True,
    )
    def choose_lang(_en: Any, _zh: Any) -> Any:
        if not acted():
            return dash.no_update
        return "zh" if ctx.triggered_id == ids.LANG_ZH else "en"

    @app.callback(
        Output({"type": ids.NAV_LINK, "index": ALL}, "children"),
        Output({"type": ids.NAV_LINK, "index": ALL}, "className"),
        Output(ids.LANG_EN, "className"),
        Output(ids.LANG_ZH, "className"),
        Output(ids.TOKEN_STATE, "children"),
        Output("token-prompt", "children"),
        Output(ids.TOKEN_SAVE, "children"),
        Output(ids.TOKEN_CLEAR, "children"),
        Output(ids.TOKEN_OPEN, "children"),
        Input(ids.LANG, "data"),
        Input("_pages_location", "pathname"),
        Input(ids.TOKEN, "data"),
    )
    def shell_text(lang: Any, pathname: str | None, token: str | None) -> tuple[Any, ...]:
        lang = lang_of(lang)
        active = _active_nav(pathname or "/")
        return (
            [t(lang, f"nav_{key}") for key, _ in NAV],
            ["nav-link active" if key == active else "nav-link" for key, _ in NAV],
            "lang active" if lang == "en" else "lang",
            "lang active" if lang == "zh" else "lang",
            t(lang, "token_set" if token else "token_unset"),
            t(lang, "token_prompt"),
            t(lang, "token_save"),
            t(lang, "token_clear"),
            t(lang, "token_button"),
        )

    @app.callback(
        Output(ids.TOKEN, "data"),
        Output(ids.TOKEN_DIALOG, "className"),
        Input(ids.TOKEN_OPEN, "n_clicks"),
        Input(ids.TOKEN_SAVE, "n_clicks"),
        Input(ids.TOKEN_CLEAR, "n_clicks"),
        Input(ids.TOKEN_CLOSE, "n_clicks"),
        State(ids.TOKEN_INPUT, "value"),
        State(ids.TOKEN_DIALOG, "className"),
        prevent_initial_call=True,
    )
    def token_dialog(
        _open: Any, _save: Any, _clear: Any, _close: Any, value: str | None, shown: str | None
    ) -> tuple[Any, Any]:
        if not acted():
            return dash.no_update, dash.no_update
        if ctx.triggered_id == ids.TOKEN_CLOSE:
            return dash.no_update, "dialog"
        if ctx.triggered_id == ids.TOKEN_SAVE:
            return (value or "").strip() or None, "dialog"
        if ctx.triggered_id == ids.TOKEN_CLEAR:
            return None, "dialog"
        return dash.no_update, "dialog" if shown == "dialog open" else "dialog open"

    @app.callback(
        Output(ids.TOKEN_DIALOG, "className", allow_duplicate=True),
        Input("token-required", "data"),
        Input(ids.TOKEN, "modified_timestamp"),
        State(ids.TOKEN, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def ask_once(required: bool, _ts: Any, token: str | None) -> str:
        """Ask for the admin token on the first visit, unless writes are open to anyone."""
        return "dialog open" if required and not token else "dialog"


def _active_nav(pathname: str) -> str:
    for key, path in reversed(NAV):
        if path != "/" and pathname.startswith(path):
            return key
    return "bugs"


def run(settings: Settings | None = None, host: str = "0.0.0.0", port: int | None = None) -> None:
    """Serve the dashboard (waitress when installed, else Flask's server) until interrupted."""
    if settings is None:
        from config.settings import get_settings

        settings = get_settings()
    app = create_app(settings)
    port = port or settings.dashboard_port
    log.info("dashboard on http://%s:%s (API %s)", host, port, settings.api_url)
    try:
        from waitress import serve
    except ImportError:
        app.run(host=host, port=port, debug=False)
        return
    serve(app.server, host=host, port=port, threads=8, ident="logcenter-dashboard")
