"""Headless Chromium for dashboard tests (the driver itself is bench.browser.chromium): waiting
helpers that survive Dash re-renders, signing in, and full-page screenshots (copied to
docs/screenshots/ on request)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from bench.browser import DASH_PENDING, HEIGHT, WIDTH
from tests.stack import ROOT

SCREENSHOTS = ROOT / "docs" / "screenshots"
#: The tallest screenshot: a bug page with its repair timeline is about 3,300 px.
MAX_HEIGHT = 4000


def save_screenshot(driver: WebDriver, path: Path) -> Path:
    """Save the whole page (not just the window; from the top down to MAX_HEIGHT) to `path`.

    With LOGCENTER_UPDATE_SCREENSHOTS=1 it is also copied to docs/screenshots/ (the README's
    pictures); a plain test run leaves the checkout as it found it."""
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script(
        "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight"
    )
    driver.set_window_size(WIDTH, min(max(height, HEIGHT), MAX_HEIGHT))
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(WIDTH, HEIGHT)
    if os.environ.get("LOGCENTER_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / path.name)
    return path


def sign_in(driver: WebDriver, dashboard: str, token: str, lang: str = "en") -> WebDriver:
    """Store the admin token and the language the way the dashboard's own dialogs do."""
    driver.get(dashboard + "/_dash-layout")
    driver.execute_script(
        "localStorage.setItem('token-store', arguments[0]);"
        "localStorage.setItem('lang-store', arguments[1]);",
        json.dumps(token),
        json.dumps(lang),
    )
    return driver


def until(browser: WebDriver, check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """Wait for `check()` to be truthy (DOM churn while Dash re-renders counts as not yet)."""

    def probe(_: WebDriver) -> Any:
        try:
            return check()
        except Exception:  # stale or not yet rendered elements
            return False

    try:
        return WebDriverWait(browser, timeout, poll_frequency=0.1).until(probe, what)
    except TimeoutException:
        page = browser.find_element(By.TAG_NAME, "body").text[:1500]
        raise TimeoutException(f"{what}; the page shows:\n{page}") from None


def settled(browser: WebDriver, quiet: float = 0.5) -> None:
    """Wait until no Dash callback has been out for `quiet` seconds: what a user types after
    that is not overwritten by an answer to an earlier request."""
    since: list[float] = []

    def idle() -> bool:
        if browser.execute_script(DASH_PENDING):
            since.clear()
            return False
        since[:] = since or [time.monotonic()]
        return time.monotonic() - since[0] >= quiet

    until(browser, idle, "the page's callbacks to finish")


def click(browser: WebDriver, selector: str) -> None:
    """Click the first match, retrying while Dash replaces the element."""

    def attempt() -> bool:
        element = css(browser, selector)[0]
        # Into the middle of the window, as a reader would scroll it: scrolled to the top, the
        # sticky navigation bar lies over it and takes the click.
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()
        return True

    until(browser, attempt, f"click {selector}")


def css(browser: WebDriver, selector: str) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, selector)


def grid_row(browser: WebDriver, grid_id: str, index: int) -> dict[str, Any] | None:
    """What a dash-ag-grid table holds for its displayed row `index`, as the browser received
    it (None while the row's block is not loaded)."""
    data: dict[str, Any] | None = browser.execute_script(
        "const row = dash_ag_grid.getApi(arguments[0]).getDisplayedRowAtIndex(arguments[1]);"
        "return row && row.data ? row.data : null;",
        grid_id,
        index,
    )
    return data
