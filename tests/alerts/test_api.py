"""The alerts API: admin token required, channels and rules checked when saved, partial
updates, deletes, and secrets that can be replaced or removed but never read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import ApiHarness, settings_for

TOKEN = "alerts-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAIL_TO = {"recipients": ["ops@example.com"]}
HOOK = {"name": "hook", "kind": "webhook", "url": "https://hooks.example.com/x?key=k"}


@pytest.fixture
def api(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[ApiHarness]:
    settings = settings_for(
        tmp_path,
        redis_url,
        redis_prefix,
        store_url=f"sqlite:///{tmp_path / 'logcenter.db'}",
        admin_token=TOKEN,
        anonymous_writes=False,
        alerts_allow_private=True,  # hooks.example.com need not resolve to a public address
        alerts_dns_server="",
    )
    with ApiHarness(settings) as harness:
        yield harness


def test_every_alerts_endpoint_needs_the_admin_token(api: ApiHarness) -> None:
    for method, path in [
        ("get", "/api/v1/alerts/channels"),
        ("post", "/api/v1/alerts/channels"),
        ("get", "/api/v1/alerts/rules"),
        ("get", "/api/v1/alerts/deliveries"),
        ("delete", "/api/v1/alerts/rules/1"),
    ]:
        assert api.client.request(method, path).status_code == 401, path
    wrong = {"Authorization": "Bearer nope"}
    assert api.client.get("/api/v1/alerts/channels", headers=wrong).status_code == 403


def _hook_channel(api: ApiHarness, **fields: object) -> dict[str, object]:
    reply = api.client.post("/api/v1/alerts/channels", json={**HOOK, **fields}, headers=AUTH)
    assert reply.status_code == 201, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_channel_secret_is_write_only(api: ApiHarness) -> None:
    channel = _hook_channel(api, secret="s3cret")
    assert (channel["has_secret"], channel["url"]) == (True, "https://hooks.example.com/***")
    assert "secret" not in channel
    path = f"/api/v1/alerts/channels/{channel['id']}"
    patched = api.client.patch(path, json={"name": "renamed"}, headers=AUTH).json()
    assert (patched["name"], patched["has_secret"]) == ("renamed", True)
    assert api.store.get_alert_channel(int(str(channel["id"]))).secret == "s3cret"  # type: ignore[union-attr]
    removed = api.client.patch(path, json={"secret": ""}, headers=AUTH).json()
    assert removed["has_secret"] is False
    assert api.client.delete(path, headers=AUTH).status_code == 204
    assert api.client.get(path, headers=AUTH).status_code == 404
    assert api.client.delete(path, headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "telegram", "url": ""}, "secret"),
        ({"kind": "email", "url": "smtp://mail.example.com:25"}, "options"),
        ({"kind": "email", "url": "https://mail.example.com", "options": MAIL_TO}, "url"),
        ({"kind": "pager"}, "kind"),
    ],
)
def test_incomplete_channels_are_refused(
    api: ApiHarness, body: dict[str, object], field: str
) -> None:
    reply = api.client.post(
        "/api/v1/alerts/channels", json={"name": "c", "url": "", **body}, headers=AUTH
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"][-1] == field


def test_rules_are_checked_updated_and_deleted(api: ApiHarness) -> None:
    channel_id = _hook_channel(api)["id"]
    rules = "/api/v1/alerts/rules"
    base = {"name": "r", "triggers": ["new_bug"], "channel_ids": [channel_id]}
    unknown = api.client.post(rules, json={**base, "channel_ids": [999]}, headers=AUTH)
    assert unknown.status_code == 422 and "999" in unknown.text
    bad_query = api.client.post(rules, json={**base, "query": "nosuchfield:x"}, headers=AUTH)
    assert bad_query.status_code == 422
    assert bad_query.json()["detail"][0]["loc"] == ["body", "query"]
    no_trigger = api.client.post(rules, json={**base, "triggers": []}, headers=AUTH)
    assert no_trigger.status_code == 422

    rule = api.client.post(rules, json={**base, "query": "level:ERROR"}, headers=AUTH).json()
    path = f"{rules}/{rule['id']}"
    patched = api.client.patch(path, json={"levels": ["FATAL"]}, headers=AUTH).json()
    assert (patched["levels"], patched["query"]) == (["FATAL"], "level:ERROR")
    assert api.client.get(rules, headers=AUTH).json() == [patched]
    assert api.client.delete(path, headers=AUTH).status_code == 204
    assert api.client.get(path, headers=AUTH).status_code == 404
