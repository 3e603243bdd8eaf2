"""The Alerts page in headless Chromium: a channel whose receiver answered 500 is listed with
that status and answer, next to its rule and the failed delivery, in English and Chinese."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from bench.services import RedisServer
from bench.stack import RunningStack, running_stack, stack_env
from tests.alerts.receivers import HttpReceiver
from tests.browser import css, sign_in, until

pytestmark = pytest.mark.browser
TOKEN = "alerts-page-token"


@pytest.fixture(scope="module")
def alerts_stack(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    env = stack_env(
        redis_server.url,
        f"t{uuid.uuid4().hex[:10]}:",
        admin_token=TOKEN,
        alerts_allow_private="true",
        alerts_retries="0",
    )
    with running_stack(tmp_path_factory.mktemp("alerts-stack"), env) as running:
        yield running


def test_the_alerts_page_lists_a_channel_with_its_last_error(
    browser: WebDriver, alerts_stack: RunningStack, screenshot: Callable[[str], Path]
) -> None:
    receiver = HttpReceiver(statuses={"/down": 503}, answers={"/down": b"upstream gone"}).start()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        body = {"name": "ops hook", "kind": "webhook", "url": f"{receiver.url}/down"}
        channel = alerts_stack.client.post("/api/v1/alerts/channels", json=body, headers=auth)
        assert channel.status_code == 201, channel.text
        channel_id = channel.json()["id"]
        rule = {"name": "prod bugs", "triggers": ["new_bug"], "channel_ids": [channel_id],
                "environments": ["production"]}  # fmt: skip
        assert alerts_stack.client.post("/api/v1/alerts/rules", json=rule, headers=auth).is_success
        sent = alerts_stack.client.post(f"/api/v1/alerts/channels/{channel_id}/test", headers=auth)
        assert sent.json()["status_code"] == 503
    finally:
        receiver.stop()

    dashboard = alerts_stack.start_dashboard()
    for lang, title, failed in (("en", "Alerts", "failed"), ("zh", "告警", "失败")):
        sign_in(browser, dashboard, TOKEN, lang)
        browser.get(dashboard + "/alerts")
        row = f'tr.channel-row[data-channel-id="{channel_id}"]'
        until(browser, lambda row=row: css(browser, row), f"the channel listed ({lang})")
        failure = css(browser, f"{row} .channel-failure")[0].text
        assert "503" in failure and "upstream gone" in failure
        assert css(browser, ".page-alerts h2")[0].text == title
        assert "production" in css(browser, "tr.rule-row")[0].text
        delivery = css(browser, "tr.delivery-row")[0].text
        assert failed in delivery and "503" in delivery and "test" in delivery
        assert css(browser, '#nav a[href="/alerts"]')[0].text == title
        screenshot(f"alerts-{lang}")
