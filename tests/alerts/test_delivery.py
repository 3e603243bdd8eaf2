"""Alerts end to end: the API (in-process, real Redis, SQLite store) configures channels and
rules, the in-process indexer appends facts, and the real deliverer process (`logcenter alerts`)
sends to real local receivers: an HTTP server per webhook-style channel, aiosmtpd for mail.

One stack serves the whole module (each test has its own project, channels and rules); windows
and backoffs are shortened by settings so the module runs in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis import Redis

from bench.services import RedisServer
from ingest.alerts.fact import IndexerFacts, WantedTriggers, stream_key
from tests.alerts.receivers import HttpReceiver, MailReceiver, wait_for
from tests.stack import ApiHarness, settings_for

WINDOW_S = 4.0
FIRST = 5
RETRIES = 2
DASHBOARD = "https://logs.example.com"
#: Every secret given to a channel in this module: none may appear in a reply or a log.
SECRETS: list[str] = []


@dataclass
class Stack:
    api: ApiHarness
    http: HttpReceiver
    mail: MailReceiver
    deliverer: subprocess.Popen[bytes]
    log: Path

    def post(self, path: str, body: dict[str, Any], status: int = 201) -> Any:
        reply = self.api.client.post(f"/api/v1/alerts{path}", json=body)
        assert reply.status_code == status, reply.text
        return reply.json()

    def channel(self, kind: str, path: str = "", **fields: Any) -> int:
        if fields.get("secret"):
            SECRETS.append(fields["secret"])
        name = f"{kind} {urlsplit(path).path}"
        body = {"name": name, "kind": kind, "url": self.http.url + path, **fields}
        return int(self.post("/channels", body)["id"])

    def rule(self, project: str, channel_ids: list[int], **fields: Any) -> int:
        body = {"name": f"rule {project}", "project_id": project, "channel_ids": channel_ids}
        body.setdefault("triggers", ["new_bug"])
        body.update(fields)
        rule_id = int(self.post("/rules", body)["id"])
        # The deliverer and the indexer re-read rules every alerts_cache_seconds.
        time.sleep(self.api.settings.alerts_cache_seconds * 2 + 0.1)
        return rule_id

    def report(self, project: str, times: int = 1, **overrides: Any) -> int:
        bug_id = 0
        for _ in range(times):
            reply = self.api.report(project_id=project, **overrides)
            assert reply.status_code == 200, reply.text
            bug_id = reply.json()["id"]
        self.api.drain()
        return int(bug_id)

    def status(self, bug_id: int, status: str, **fields: Any) -> None:
        body = {"status": status, "by": "agent", **fields}
        reply = self.api.client.put(f"/api/v1/bugs/{bug_id}/status", json=body)
        assert reply.status_code == 200, reply.text


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("alerts")
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    options = {
        "store_url": f"sqlite:///{tmp / 'logcenter.db'}",
        "default_language": "zh",
        "public_dashboard_url": DASHBOARD,
        "alerts_allow_private": True,
        "alerts_flood_window_seconds": WINDOW_S,
        "alerts_flood_first": FIRST,
        "alerts_retries": RETRIES,
        "alerts_retry_backoff_seconds": 0.1,
        "alerts_timeout_seconds": 3,
        "alerts_cache_seconds": 0.2,
    }
    settings = settings_for(tmp, redis_server.url, prefix, **options)
    http, mail = HttpReceiver().start(), MailReceiver().start()
    env = {**os.environ, "LOGCENTER_REDIS_URL": redis_server.url, "LOGCENTER_REDIS_PREFIX": prefix}
    env.update({f"LOGCENTER_{k.upper()}": str(v) for k, v in options.items()})
    env.update(LOGCENTER_DATA_DIR=str(tmp), LOGCENTER_ANONYMOUS_WRITES="true")
    log = tmp / "deliverer.log"
    with ApiHarness(settings) as api, log.open("wb") as out:
        api.indexer.alerts = IndexerFacts(
            api.redis, prefix, WantedTriggers(api.store.list_alert_rules, 0.2)
        )
        cli = Path(sys.executable).parent / "logcenter"
        deliverer = subprocess.Popen(
            [str(cli), "alerts"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_for(lambda: b"alert deliverer" in log.read_bytes(), what="the deliverer")
            yield Stack(api, http, mail, deliverer, log)
        finally:
            deliverer.terminate()
            deliverer.wait(timeout=20)
            http.stop()
            mail.stop()


def _sign(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def test_a_new_bug_reaches_every_matching_channel_once(stack: Stack) -> None:
    project = "shop-new"
    secrets = {k: f"SEC-{k}-{uuid.uuid4().hex}" for k in ("webhook", "ding", "feishu", "tg")}
    ids = [
        stack.channel("webhook", "/hook", secret=secrets["webhook"]),
        stack.channel("dingtalk", "/robot/send?access_token=t1", secret=secrets["ding"]),
        stack.channel("feishu", "/open-apis/bot/v2/hook/abc", secret=secrets["feishu"]),
        stack.channel("slack", "/services/T1/B1/x"),
        stack.channel("wecom", "/cgi-bin/webhook/send?key=k"),
        stack.channel("teams", "/workflows/run"),
        stack.channel("discord", "/api/webhooks/1/x"),
        stack.channel("telegram", "", secret=secrets["tg"], options={"chat_id": "-100"}),
        stack.channel(
            "email",
            url=f"smtp://127.0.0.1:{stack.mail.port}",
            options={"sender": "lc@example.com", "recipients": ["ops@example.com"]},
        ),
    ]
    elsewhere = stack.channel("webhook", "/elsewhere")
    stack.rule(project, ids)
    stack.rule(project, [elsewhere], environments=["staging"])  # the bug is production's
    stack.rule("other-project", [elsewhere])

    bug_id = stack.report(project)
    paths = ["/hook", "/robot/send", "/open-apis/bot/v2/hook/abc", "/services/T1/B1/x",
             "/cgi-bin/webhook/send", "/workflows/run", "/api/webhooks/1/x",
             f"/bot{secrets['tg']}/sendMessage"]  # fmt: skip
    wait_for(
        lambda: all(stack.http.at(p) for p in paths) and stack.mail.messages,
        what="a message on every channel",
    )
    link = f"{DASHBOARD}/bugs/{bug_id}"

    hook = stack.http.at("/hook")[0]
    expected = "sha256=" + hmac.new(secrets["webhook"].encode(), hook.raw, "sha256").hexdigest()
    assert hook.headers["x-logcenter-signature"] == expected
    assert hook.json()["event"] == "new_bug" and hook.json()["link"] == link
    assert hook.json()["bug_ids"] == [bug_id]
    assert abs(hook.json()["sent_at"] - time.time()) < 60  # signed with the body: no replays

    ding = stack.http.at("/robot/send")[0]
    ts = ding.query["timestamp"]
    signed = f"{ts}\n{secrets['ding']}".encode()
    assert ding.query["sign"] == _sign(secrets["ding"].encode(), signed)
    assert abs(int(ts) / 1000 - time.time()) < 60
    assert ding.json()["msgtype"] == "markdown"
    assert "新问题" in ding.json()["markdown"]["title"] and link in ding.json()["markdown"]["text"]

    feishu = stack.http.at("/open-apis/bot/v2/hook/abc")[0].json()
    key = f"{feishu['timestamp']}\n{secrets['feishu']}".encode()
    assert feishu["sign"] == _sign(key, b"")
    assert feishu["msg_type"] == "post"

    assert "ValueError" in stack.http.at("/services/T1/B1/x")[0].json()["text"]
    assert link in stack.http.at("/cgi-bin/webhook/send")[0].json()["markdown"]["content"]
    card = stack.http.at("/workflows/run")[0].json()["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"] == link
    assert stack.http.at("/api/webhooks/1/x")[0].json()["embeds"][0]["url"] == link
    telegram = stack.http.at(f"/bot{secrets['tg']}/sendMessage")[0].json()
    assert telegram["chat_id"] == "-100" and link in telegram["text"]
    mail = stack.mail.messages[0]
    assert mail["To"] == "ops@example.com" and "新问题" in str(mail["Subject"])
    assert link in mail.get_payload(decode=True).decode()  # type: ignore[union-attr]

    # 500 more occurrences within the cooldown alert no one; a second new bug (the sentinel,
    # after them in the stream) does, and only it.
    stack.report(project, times=500)
    sentinel = stack.report(project, line_number=4242)
    wait_for(
        lambda: len(stack.http.at("/hook")) >= 2 and len(stack.mail.messages) >= 2,
        what="the sentinel's alerts",
    )
    assert [r.json()["bug_ids"] for r in stack.http.at("/hook")] == [[bug_id], [sentinel]]
    assert len(stack.mail.messages) == 2
    assert stack.http.at("/elsewhere") == []
    deliveries = stack.api.client.get("/api/v1/alerts/deliveries", params={"channel_id": ids[0]})
    assert [d["ok"] for d in deliveries.json()] == [True, True]


def test_a_project_language_overrides_the_default(stack: Stack) -> None:
    project = "shop-en"
    reply = stack.api.client.put(f"/api/v1/projects/{project}", json={"language": "en"})
    assert reply.status_code == 200 and reply.json()["language"] == "en"
    hook = stack.channel("webhook", "/english")
    stack.rule(project, [hook])  # waits out the deliverer's cache, projects included
    stack.report(project)
    wait_for(lambda: stack.http.at("/english"), what="the alert")
    sent = stack.http.at("/english")[0].json()
    assert sent["title"] == f"[{project}] New bug: ValueError"
    assert sent["facts"]["Occurrences"] == "1" and sent["facts"]["Environment"] == "production"


def test_a_frequency_rule_fires_once_when_crossed(stack: Stack) -> None:
    project = "shop-freq"
    hook = stack.channel("webhook", "/freq")
    stack.rule(project, [hook], triggers=["frequency"], frequency_count=20, frequency_minutes=2)
    stack.report(project, times=15)
    stack.report(project, times=10)  # 25 > 20: crossed
    wait_for(lambda: stack.http.at("/freq"), what="the frequency alert")
    stack.report(project, times=30)  # still over, within the cooldown
    stack.rule(project, [hook], name="sentinel")  # new bugs of the project, same channel
    sentinel = stack.report(project, line_number=777)
    wait_for(lambda: len(stack.http.at("/freq")) >= 2, what="the sentinel's alert")
    sent = [r.json() for r in stack.http.at("/freq")]
    assert [s["event"] for s in sent] == ["frequency", "new_bug"]
    assert sent[1]["bug_ids"] == [sentinel]
    assert sent[0]["facts"]["最近分钟内 (2)"] == "25"  # occurrences in the rule's window


def test_repairs_and_a_regression_alert(stack: Stack) -> None:
    project = "shop-regress"
    hook = stack.channel("webhook", "/regress")
    triggers = ["regression", "repair_finished", "repair_failed"]
    stack.rule(project, [hook], triggers=triggers)
    bug_id = stack.report(project)
    branch = f"fix/bug-{bug_id}-{uuid.uuid4().hex[:4]}"
    round_ = {"round": 1, "passed": True, "branch": branch}
    reply = stack.api.client.post(f"/api/v1/bugs/{bug_id}/repair-reports", json=round_)
    assert reply.status_code == 201, reply.text
    for status in ("VERIFYING", "PENDING_FIX", "FIXING", "FIXED"):
        stack.status(bug_id, status)
    wait_for(lambda: stack.http.at("/regress"), what="the repair-finished alert")
    finished = stack.http.at("/regress")[0].json()
    assert (finished["event"], finished["facts"]["分支"]) == ("repair_finished", branch)

    stack.report(project)  # a new occurrence of a fixed bug
    wait_for(lambda: len(stack.http.at("/regress")) >= 2, what="the regression alert")
    regression = stack.http.at("/regress")[1].json()
    assert (regression["event"], regression["bug_ids"]) == ("regression", [bug_id])
    assert "问题复发" in regression["title"]

    reason = f"tests still fail: AssertionError {uuid.uuid4().hex[:6]}"
    stack.status(bug_id, "FIX_FAILED", failure_reason=reason)
    wait_for(lambda: len(stack.http.at("/regress")) >= 3, what="the repair-failed alert")
    failed = stack.http.at("/regress")[2].json()
    assert failed["event"] == "repair_failed"
    assert failed["facts"]["失败原因"] == reason
    assert len(stack.http.at("/regress")) == 3


def test_a_burst_of_new_bugs_is_folded_into_a_digest(stack: Stack) -> None:
    project = "shop-burst"
    hook = stack.channel("webhook", "/burst")
    stack.rule(project, [hook])
    for line in range(300):
        stack.api.report(project_id=project, line_number=10_000 + line)
    stack.api.drain()

    def digests() -> list[dict[str, Any]]:
        return [r.json() for r in stack.http.at("/burst") if r.json()["event"] == "digest"]

    def accounted() -> int:
        single = [r for r in stack.http.at("/burst") if r.json()["event"] == "new_bug"]
        folded = sum(int(d["title"].split(": ")[1].split(" ")[0]) for d in digests())
        return len(single) + folded

    wait_for(lambda: accounted() == 300, timeout=3 * WINDOW_S + 10, what="every bug accounted")
    messages = stack.http.at("/burst")
    assert len(messages) <= 3 * (FIRST + 1)  # at most a few windows, never 300 messages
    assert digests()
    for digest in digests():
        listed = stack.api.settings.alerts_digest_items
        assert len(digest["bug_ids"]) <= listed
        assert len(digest["lines"]) <= listed + 1


def test_a_failing_channel_is_retried_then_recorded(stack: Stack) -> None:
    project = "shop-down"
    stack.http.statuses["/down"] = 500
    stack.http.answers["/down"] = b'{"error": "receiver down"}'
    hook = stack.channel("webhook", "/down")
    stack.rule(project, [hook])
    stack.report(project)
    wait_for(lambda: len(stack.http.at("/down")) == RETRIES + 1, what="every attempt")

    def recorded() -> list[dict[str, Any]]:
        reply = stack.api.client.get("/api/v1/alerts/deliveries", params={"channel_id": hook})
        return list(reply.json())

    wait_for(lambda: bool(recorded()), what="the failed delivery recorded")
    delivery = recorded()[0]
    assert (delivery["ok"], delivery["attempts"], delivery["status_code"]) == (
        False,
        RETRIES + 1,
        500,
    )
    channel = stack.api.client.get(f"/api/v1/alerts/channels/{hook}").json()
    assert channel["last_failure_status"] == 500
    assert "receiver down" in channel["last_failure_body"]
    assert channel["last_success_at"] is None


def test_secrets_never_appear_in_replies_or_logs(stack: Stack) -> None:
    secret = f"SEC-{uuid.uuid4().hex}"
    channel_id = stack.channel("dingtalk", "/robot/send?access_token=tok123", secret=secret)
    replies = [
        stack.api.client.get("/api/v1/alerts/channels").text,
        stack.api.client.get(f"/api/v1/alerts/channels/{channel_id}").text,
        stack.api.client.patch(f"/api/v1/alerts/channels/{channel_id}", json={"name": "x"}).text,
        stack.api.client.post(f"/api/v1/alerts/channels/{channel_id}/test").text,
    ]
    for text in replies:
        assert secret not in text and "tok123" not in text
    got = stack.api.client.get(f"/api/v1/alerts/channels/{channel_id}").json()
    assert got["has_secret"] is True and got["url"].endswith("/***")
    log = stack.log.read_text()
    assert "alert deliverer" in log and "failed after" in log  # the deliverer's, with failures
    for used in [*SECRETS, secret]:
        assert used not in log


def test_the_alert_stream_is_consumed(stack: Stack) -> None:
    """Every fact appended by this module's tests was read and acknowledged by the deliverer."""
    redis = Redis.from_url(stack.api.settings.redis_url)
    key = stream_key(stack.api.settings.redis_prefix)
    wait_for(lambda: redis.xlen(key) == 0, what="the alert stream drained")
    assert stack.deliverer.poll() is None  # still running
    redis.close()
