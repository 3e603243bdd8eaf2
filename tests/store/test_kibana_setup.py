"""`logcenter kibana-setup`: the shipped saved objects are valid NDJSON naming fields the
mappings have, and the command imports them through Kibana's saved objects API, checked
against a local stand-in for Kibana that records the request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

import pytest

from config.cli import main
from config.settings import get_settings
from store.elasticsearch.kibana import fields_named, saved_objects
from store.elasticsearch.mapping import BUG_MAPPING, EVENT_MAPPING

MAPPINGS = {"logcenter-events-*": EVENT_MAPPING, "logcenter-bugs": BUG_MAPPING}


def flattened(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Dotted field name -> its mapping, aliases resolved to what they name."""
    out: dict[str, dict[str, Any]] = {}
    for name, spec in properties.items():
        if "properties" in spec:
            out.update(flattened(spec["properties"], f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = spec
    return {name: out.get(spec.get("path", ""), spec) for name, spec in out.items()}


def test_the_saved_objects_file_is_valid_ndjson() -> None:
    text = files("store.elasticsearch.kibana").joinpath("saved_objects.ndjson").read_text()
    objects = [json.loads(line) for line in text.splitlines()]
    assert text.endswith("\n") and all(line.strip() for line in text.splitlines())
    ids = {(o["type"], o["id"]) for o in objects}
    assert len(ids) == len(objects)
    assert {o["type"] for o in objects} == {"index-pattern", "search", "lens", "dashboard"}
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in ids, (obj["id"], ref)
    views = {o["attributes"]["title"]: o["attributes"]["timeFieldName"]
             for o in objects if o["type"] == "index-pattern"}
    assert views == {"logcenter-events-*": "@timestamp", "logcenter-bugs": "last_seen"}
    (search,) = [o for o in objects if o["type"] == "search"]
    assert search["attributes"]["title"] == "errors, last 24 h"
    assert search["attributes"]["timeRange"] == {"from": "now-24h", "to": "now"}


def test_the_fields_the_objects_name_exist_in_the_mappings() -> None:
    named = fields_named(saved_objects())
    assert set(named) == set(MAPPINGS)
    for view, fields in named.items():
        mapped = flattened(MAPPINGS[view]["properties"])
        for name, needs in fields.items():
            assert name in mapped, (view, name)
            assert mapped[name].get("index", True), (view, name)
            if "aggregatable" in needs:
                assert mapped[name]["type"] in ("keyword", "date_nanos", "long"), (view, name)
    assert {"service.name", "error.type", "@timestamp"} <= set(named["logcenter-events-*"])


def test_another_prefix_renames_views_and_ids() -> None:
    objects = saved_objects("acme-")
    titles = sorted(o["attributes"]["title"] for o in objects if o["type"] == "index-pattern")
    assert titles == ["acme-bugs", "acme-events-*"]
    assert all(o["id"].startswith("acme-") for o in objects)
    assert all(r["id"].startswith("acme-") for o in objects for r in o["references"])


class StandIn(BaseHTTPRequestHandler):
    """Kibana's import endpoint as far as kibana-setup uses it; records what it got."""

    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        form = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body)
        parts = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
        upload = parts["file"]
        lines = upload.get_payload(decode=True).decode().splitlines()
        self.requests.append({"path": self.path, "headers": dict(self.headers),
                              "filename": upload.get_filename(), "objects": lines})
        answer = {"success": True, "successCount": len(lines), "successResults": []}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def kibana() -> Iterator[str]:
    StandIn.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_kibana_setup_posts_the_objects_to_the_import_api(
    kibana: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOGCENTER_ES_INDEX_PREFIX", "acme-")
    get_settings.cache_clear()
    try:
        assert main(["kibana-setup", "--kibana-url", f"{kibana}/"]) == 0
    finally:
        get_settings.cache_clear()
    (request,) = StandIn.requests
    assert request["path"] == "/api/saved_objects/_import?overwrite=true"
    assert request["headers"]["kbn-xsrf"] == "true"
    assert request["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert request["filename"].endswith(".ndjson")
    assert [json.loads(line) for line in request["objects"]] == saved_objects("acme-")
    assert "imported 6 objects" in capsys.readouterr().out


def test_kibana_setup_says_why_kibana_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: StandIn) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        data = json.dumps({"success": False, "successCount": 0, "errors": [
            {"type": "lens", "id": "logcenter-top-error-types",
             "error": {"type": "missing_references"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    monkeypatch.setattr(StandIn, "do_POST", refuse)
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(SystemExit, match="missing_references"):
            main(["kibana-setup", "--kibana-url", f"http://127.0.0.1:{server.server_address[1]}"])
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(SystemExit, match="unreachable"):
        main(["kibana-setup", "--kibana-url", "http://127.0.0.1:9"])
