"""Kibana over the Elasticsearch store, set up in one step (`logcenter kibana-setup`).

`saved_objects.ndjson` holds data views of the occurrences (`<prefix>events-*`, time field
`@timestamp`) and of the bugs (`<prefix>bugs`, time field `last_seen`), the saved search
"errors, last 24 h" and a dashboard (occurrences over time by project, top error types, the
saved search). It is written for the default prefix `logcenter-`; `saved_objects(prefix)` gives
it for another install. Kibana's saved objects import API takes it as it is.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import httpx

DEFAULT_PREFIX = "logcenter-"
#: Kibana refuses API writes without this header (its guard against cross-site requests).
XSRF_HEADER = {"kbn-xsrf": "true"}

SavedObject = dict[str, Any]


class KibanaError(Exception):
    """Kibana could not be reached or refused the objects (the message says which and why)."""


def saved_objects(prefix: str = DEFAULT_PREFIX) -> list[SavedObject]:
    """The shipped objects, naming the indices (and ids) of the install using `prefix`."""
    text = files(__name__).joinpath("saved_objects.ndjson").read_text(encoding="utf-8")
    objects = [json.loads(line) for line in text.splitlines() if line.strip()]
    for obj in objects:
        obj["id"] = _renamed(obj["id"], prefix)
        for ref in obj.get("references", []):
            ref["id"] = _renamed(ref["id"], prefix)
        if obj["type"] == "index-pattern":
            obj["attributes"]["title"] = _renamed(obj["attributes"]["title"], prefix)
    return objects


def _renamed(name: str, prefix: str) -> str:
    return prefix + name.removeprefix(DEFAULT_PREFIX) if name.startswith(DEFAULT_PREFIX) else name


def ndjson(objects: list[SavedObject]) -> bytes:
    """The objects as Kibana's import API reads them: one JSON document a line."""
    lines = (json.dumps(o, ensure_ascii=False, separators=(",", ":")) for o in objects)
    return "".join(f"{line}\n" for line in lines).encode()


def fields_named(objects: list[SavedObject]) -> dict[str, dict[str, set[str]]]:
    """Data view title -> field -> what the objects need of it ("searchable", and
    "aggregatable" for time fields, sorting and chart buckets)."""
    titles = {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    out: dict[str, dict[str, set[str]]] = {title: {} for title in titles.values()}

    def need(view: str, name: str, *what: str) -> None:
        out[titles[view]].setdefault(name, {"searchable"}).update(what)

    for obj in objects:
        attrs, refs = obj["attributes"], {r["name"]: r["id"] for r in obj.get("references", [])}
        if obj["type"] == "index-pattern":
            need(obj["id"], attrs["timeFieldName"], "aggregatable")
        elif obj["type"] == "search":
            view = refs["kibanaSavedObjectMeta.searchSourceJSON.index"]
            for name in attrs["columns"]:
                need(view, name)
            for name, _ in attrs["sort"]:
                need(view, name, "aggregatable")
        elif obj["type"] == "lens":
            layers = attrs["state"]["datasourceStates"]["formBased"]["layers"]
            for layer_id, layer in layers.items():
                view = refs[f"indexpattern-datasource-layer-{layer_id}"]
                for column in layer["columns"].values():
                    if column["sourceField"] != "___records___":
                        need(view, column["sourceField"], "aggregatable")
    return out


def import_saved_objects(
    kibana_url: str,
    prefix: str = DEFAULT_PREFIX,
    *,
    auth: tuple[str, str] | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Import the objects into the Kibana at `kibana_url` (replacing earlier copies of them);
    Kibana's answer. KibanaError when it is unreachable or refuses any object."""
    objects = saved_objects(prefix)
    url = f"{kibana_url.rstrip('/')}/api/saved_objects/_import"
    try:
        resp = httpx.post(
            url,
            params={"overwrite": "true"},
            headers=XSRF_HEADER,
            files={"file": ("logcenter.ndjson", ndjson(objects), "application/ndjson")},
            auth=auth,
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise KibanaError(f"Kibana at {kibana_url} is unreachable: {exc}") from exc
    if resp.status_code >= 300:
        raise KibanaError(f"Kibana answered {resp.status_code}: {resp.text[:500]}")
    answer: dict[str, Any] = resp.json()
    if not answer.get("success"):
        errors = [(e.get("type"), e.get("id"), e.get("error")) for e in answer.get("errors", [])]
        raise KibanaError(
            f"Kibana imported {answer.get('successCount', 0)} of {len(objects)} objects: {errors}"
        )
    return answer
