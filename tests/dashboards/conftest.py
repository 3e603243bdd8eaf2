"""A real stack (API + indexer processes), seeded data, the dashboard as its own process, and a
headless Chromium to drive it."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboards.seed import Seeded, seed
from tests.services import RedisServer, free_port, wait_for
from tests.stack import ROOT, RunningStack, running_stack, stack_env

ADMIN_TOKEN = "dashboard-test-token"
SCREENSHOTS = ROOT / "docs" / "screenshots"
WIDTH, HEIGHT = 1440, 1000


@pytest.fixture(scope="module")
def stack(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    env = stack_env(redis_server.url, f"t{uuid.uuid4().hex[:10]}:", admin_token=ADMIN_TOKEN)
    with running_stack(tmp_path_factory.mktemp("stack"), env) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(stack: RunningStack) -> Seeded:
    return seed(stack.client, ADMIN_TOKEN)


@pytest.fixture(scope="module")
def dashboard(stack: RunningStack) -> str:
    """`logcenter dashboard` as its own process, on the stack's API URL and admin token; it
    stops with the stack."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stack.spawn("dashboard", "dashboard", "--host", "127.0.0.1", "--port", str(port))
    wait_for(
        lambda: httpx.get(url, timeout=2).status_code == 200,
        60,
        f"dashboard on {url} (log: {stack.workdir / 'dashboard.log'})",
    )
    return url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
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
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(browser: object, tmp_path: Path) -> Callable[[str], Path]:
    """Save the page under the test's tmp dir and keep a copy in docs/screenshots/<name>.png."""

    def take(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        driver: Any = browser
        height = driver.execute_script(
            "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight"
        )
        driver.set_window_size(WIDTH, min(max(height, HEIGHT), 3000))  # the whole page
        try:
            driver.save_screenshot(str(path))
        finally:
            driver.set_window_size(WIDTH, HEIGHT)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
        return path

    return take
