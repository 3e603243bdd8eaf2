"""Where alerts may go: unsafe webhook URLs are refused when saved, and a name that resolved to
a public address when saved but to a private one at send time (DNS rebinding) is refused at
connect time. Resolution goes through a real local DNS server (dnslib)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.receivers import DnsServer, HttpReceiver
from tests.stack import ApiHarness, settings_for

HOST = "hooks.example.test"


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    server = DnsServer().start()
    yield server
    server.stop()


@pytest.fixture
def strict_api(
    tmp_path: Path, redis_url: str, redis_prefix: str, dns: DnsServer
) -> Iterator[ApiHarness]:
    """The API refusing private addresses, resolving through the test's DNS server."""
    settings = settings_for(
        tmp_path,
        redis_url,
        redis_prefix,
        store_url=f"sqlite:///{tmp_path / 'logcenter.db'}",
        alerts_dns_server=dns.address,
        alerts_timeout_seconds=2,
    )
    with ApiHarness(settings) as harness:
        yield harness


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "ftp://hooks.example.com/x",
        "file:///etc/passwd",
        f"http://{HOST}/private-name",
    ],
)
def test_unsafe_webhooks_are_refused_when_saved(
    strict_api: ApiHarness, dns: DnsServer, url: str
) -> None:
    dns.records[HOST] = "192.168.1.20"
    body = {"name": "hook", "kind": "webhook", "url": url}
    reply = strict_api.client.post("/api/v1/alerts/channels", json=body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"] == ["body", "url"]
    assert strict_api.client.get("/api/v1/alerts/channels").json() == {"channels": []}


def test_a_name_rebound_to_a_private_address_is_refused_at_connect(
    strict_api: ApiHarness, dns: DnsServer
) -> None:
    receiver = HttpReceiver().start()
    try:
        dns.records[HOST] = "93.184.215.14"  # public when saved
        port = receiver.server.server_address[1]
        body = {"name": "hook", "kind": "webhook", "url": f"http://{HOST}:{port}/hook"}
        reply = strict_api.client.post("/api/v1/alerts/channels", json=body)
        assert reply.status_code == 201, reply.text
        channel_id = reply.json()["id"]

        dns.records[HOST] = "127.0.0.1"  # re-pointed at this machine afterwards
        sent = strict_api.client.post(f"/api/v1/alerts/channels/{channel_id}/test").json()
        assert sent["ok"] is False and sent["status_code"] is None
        assert "127.0.0.1" in sent["response"] and "private" in sent["response"]
        assert receiver.received == []
        channel = strict_api.client.get(f"/api/v1/alerts/channels/{channel_id}").json()
        assert "private" in channel["last_failure_body"]
    finally:
        receiver.stop()
