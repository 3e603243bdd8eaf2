"""`/download/{bugs,events}.{csv,ndjson}`: the dashboard's own route to the API's exports.

A download link cannot send the browser's token in a header, and the API may not be reachable
from the browser at the address the dashboard uses (`api:8002` in docker-compose). So the
browser downloads from the dashboard, which streams the API's answer through, sending the
browser's token: an `Authorization` header if there is one, else the `logcenter_token` cookie
the shell keeps in step with the stored token (SameSite=Strict, path /download). The dashboard
adds no token of its own: without the browser's, a guarded export is refused as it would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote

import flask
import httpx

from client.http import ApiError
from dashboards import api, view

#: The cookie that carries the browser's token to this route (set in app.py's shell).
TOKEN_COOKIE = "logcenter_token"
KINDS = ("bugs", "events")
#: The dashboard's own parameters, turned into the export's `from`/`to`.
_WINDOW = ("range", "from", "to", "format")


def register(server: flask.Flask) -> None:
    server.add_url_rule("/download/<kind>.<fmt>", "download", download)


def download(kind: str, fmt: str) -> flask.Response:
    """Stream one export; an API refusal (401, 400 on a bad query) is passed on as it is."""
    if kind not in KINDS or fmt not in view.FORMATS:
        flask.abort(404)
    args = flask.request.args
    params = [(k, v) for k, v in args.items(multi=True) if k not in _WINDOW]
    if kind == "events":
        params += list(view.export_window(args, datetime.now(UTC)).items())
    params.append(("format", fmt))
    try:
        reply = api.current().export(kind, params, _token())
    except ApiError as exc:
        return flask.Response(str(exc), 502, mimetype="text/plain")
    if reply.is_error:
        body = reply.read()
        reply.close()
        return flask.Response(
            body, reply.status_code, content_type=reply.headers.get("content-type")
        )
    headers = {"Content-Disposition": reply.headers.get("content-disposition", "attachment")}
    return flask.Response(
        _chunks(reply), content_type=reply.headers.get("content-type"), headers=headers
    )


def _chunks(reply: httpx.Response) -> Iterator[bytes]:
    try:
        yield from reply.iter_bytes()
    finally:
        reply.close()


def _token() -> str | None:
    header = flask.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    cookie = flask.request.cookies.get(TOKEN_COOKIE)
    return unquote(cookie) if cookie else None
