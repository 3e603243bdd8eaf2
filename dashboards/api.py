"""Where a dashboard page finds its API client: the one `create_app` keeps in the Flask app's
config (the client itself is `client.http.ApiClient`).
"""

from __future__ import annotations

import flask

from client.http import ApiClient

#: Key under which create_app keeps the client in the server's config.
CONFIG_KEY = "LOGCENTER_API"


def current() -> ApiClient:
    """The client of the app serving this request (set up by create_app)."""
    client: ApiClient = flask.current_app.config[CONFIG_KEY]
    return client
