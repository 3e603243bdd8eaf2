"""Headless Chromium (Debian's chromium and chromedriver through selenium), for the page-time
benchmark and the dashboard's browser tests alike. selenium comes with the test extras
(`pip install -e .[test]`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

WIDTH, HEIGHT = 1440, 1000


#: Script: whether a Dash callback is out (the renderer marks its outputs while it waits).
DASH_PENDING = "return !!document.querySelector('[data-dash-is-loading=\"true\"]')"


def chromium(languages: str | None = None, command_timeout: float | None = None) -> WebDriver:
    """Debian's chromium and chromedriver, headless, logging the browser console; `languages`
    ("zh-CN,zh") sets the Accept-Language it sends, as a user's language settings do.
    `command_timeout` replaces selenium's 120 s per command (a page whose main thread is
    blocked longer answers no command until it is free)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:  # an install without the test extras
        raise SystemExit("headless Chromium needs selenium: pip install -e '.[test]'") from exc

    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    if languages:
        options.add_experimental_option("prefs", {"intl.accept_languages": languages})
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    if command_timeout is not None:
        executor = driver.command_executor
        assert not isinstance(executor, str)  # a local driver talks through a connection
        executor._client_config.timeout = command_timeout  # noqa: SLF001
    return driver
