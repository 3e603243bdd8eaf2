"""The dashboard opens in the browser's language (Chinese browsers in Chinese, others in
English), unless LOGCENTER_DEFAULT_LANGUAGE fixes it; a choice made with the switch is kept in
the browser and wins over both. Real headless Chromium with its language set as a user sets it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from bench.browser import chromium
from bench.stack import RunningStack
from tests.browser import click, css, until
from tests.dashboards.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.browser

TITLES = {"en": "Repair reports", "zh": "修复报告"}
NAV_BUGS = {"en": "Bugs", "zh": "缺陷"}


@pytest.fixture(scope="module")
def chinese_browser() -> Iterator[WebDriver]:
    driver = chromium("zh-CN,zh")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def english_browser() -> Iterator[WebDriver]:
    driver = chromium("en-US,en")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def chinese_dashboard(stack: RunningStack) -> str:
    """A dashboard whose operator fixed the language to Chinese."""
    return stack.start_dashboard("dashboard-zh", LOGCENTER_DEFAULT_LANGUAGE="zh")


def open_repairs(browser: WebDriver, base: str) -> None:
    """The repairs page as a first-time visitor who holds the admin token (no language)."""
    browser.get(base + "/_dash-layout")
    browser.execute_script(
        "localStorage.clear(); localStorage.setItem('token-store', arguments[0]);",
        json.dumps(ADMIN_TOKEN),
    )
    browser.get(base + "/repairs")


def shows(browser: WebDriver, lang: str, what: str) -> None:
    until(browser, lambda: css(browser, "h2")[0].text == TITLES[lang], what)
    assert css(browser, '#nav a[href="/"]')[0].text == NAV_BUGS[lang]
    assert browser.execute_script("return document.documentElement.lang") == (
        "zh-CN" if lang == "zh" else "en"
    )


def test_a_chinese_browser_opens_in_chinese(chinese_browser: WebDriver, dashboard: str) -> None:
    open_repairs(chinese_browser, dashboard)
    shows(chinese_browser, "zh", "Accept-Language zh-CN: Chinese")


def test_an_english_browser_opens_in_english(english_browser: WebDriver, dashboard: str) -> None:
    open_repairs(english_browser, dashboard)
    shows(english_browser, "en", "Accept-Language en-US: English")


def test_the_setting_wins_over_the_browser(
    english_browser: WebDriver, chinese_dashboard: str
) -> None:
    open_repairs(english_browser, chinese_dashboard)
    shows(english_browser, "zh", "LOGCENTER_DEFAULT_LANGUAGE=zh over Accept-Language en-US")


def test_a_switch_choice_survives_a_reload_and_wins(
    chinese_browser: WebDriver, english_browser: WebDriver, dashboard: str, chinese_dashboard: str
) -> None:
    open_repairs(chinese_browser, dashboard)
    shows(chinese_browser, "zh", "Chinese from the browser")
    click(chinese_browser, "#lang-en")
    shows(chinese_browser, "en", "the switch turns it English")
    chinese_browser.refresh()
    shows(chinese_browser, "en", "English after a reload, over Accept-Language zh-CN")

    open_repairs(english_browser, chinese_dashboard)
    shows(english_browser, "zh", "Chinese from the setting")
    click(english_browser, "#lang-en")
    shows(english_browser, "en", "the switch turns it English")
    english_browser.refresh()
    shows(english_browser, "en", "English after a reload, over the setting")
    click(english_browser, "#lang-zh")
    shows(english_browser, "zh", "and back to Chinese")
    english_browser.refresh()
    shows(english_browser, "zh", "kept too")

    chinese_browser.get(dashboard + "/repairs")  # a new visit, not a reload: still English
    shows(chinese_browser, "en", "the choice holds on a new visit")
