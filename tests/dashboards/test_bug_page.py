"""A bug's page at scale, in headless Chromium against a real stack: its occurrences load a
block at a time in Discover's table, and a row opens the whole occurrence, fetched by id.

A stack of its own (this module's): more occurrences than one block would change what the
other browser tests count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from bench.services import wait_for
from bench.stack import RunningStack, guide_payload
from dashboards import documents
from tests.browser import click, css, grid_row, sign_in, until
from tests.dashboards.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.browser

#: One block and a half: the second block comes only when the table is scrolled.
OCCURRENCES = documents.BLOCK + documents.BLOCK // 2
ROW = "#bug-grid .ag-row:not(.ag-row-loading)"
VIEWPORT = "document.querySelector('#bug-grid .ag-body-viewport')"


@pytest.fixture(scope="module")
def bug_id(stack: RunningStack) -> int:
    """One bug reported OCCURRENCES times over the last hours, each with its own context."""
    now = datetime.now(UTC)
    found = 0
    for n in range(OCCURRENCES):
        stamp = now - timedelta(minutes=2 * n + 1)
        payload = guide_payload(timestamp=stamp.isoformat().replace("+00:00", "Z"))
        payload["context"] = {**payload["context"], "attempt": n}
        reply = stack.client.post("/api/v1/logs/report", json=payload)
        assert reply.status_code == 200, reply.text
        found = reply.json()["id"]
    wait_for(
        lambda: stack.client.get(f"/api/v1/bugs/{found}").json()["count"] == OCCURRENCES,
        60,
        f"{OCCURRENCES} occurrences indexed",
    )
    return found


def displayed(browser: WebDriver, index: int) -> dict[str, Any] | None:
    return grid_row(browser, "bug-grid", index)


def test_occurrences_load_by_block_on_scroll_and_a_row_opens_whole(
    browser: WebDriver, dashboard: str, stack: RunningStack, bug_id: int
) -> None:
    sign_in(browser, dashboard, ADMIN_TOKEN)
    listed = stack.client.get(f"/api/v1/bugs/{bug_id}/events", params={"size": 500}).json()
    newest_first = [e["id"] for e in listed["items"]]
    assert len(newest_first) == OCCURRENCES
    browser.get(f"{dashboard}/bugs/{bug_id}")
    until(browser, lambda: css(browser, ROW), "the first block of occurrences")
    until(browser, lambda: css(browser, "#bug-chart .strip-bars .bar"), "the occurrences chart")
    assert [displayed(browser, i)["id"] for i in (0, 99)] == newest_first[0:100:99]  # type: ignore[index]
    assert displayed(browser, documents.BLOCK) is None  # the second block waits for a scroll

    browser.execute_script(f"{VIEWPORT}.scrollTop = 1e6")
    last = OCCURRENCES - 1
    until(browser, lambda: displayed(browser, last), "the second block, after scrolling")
    shown = [displayed(browser, i)["id"] for i in range(OCCURRENCES)]  # type: ignore[index]
    assert shown == newest_first
    assert (
        browser.execute_script("return dash_ag_grid.getApi('bug-grid').getDisplayedRowCount()")
        == OCCURRENCES
    )  # the last block ended the table
    row = displayed(browser, last) or {}
    assert "stack_trace" not in row  # the table holds cells only

    cell = f'{ROW}[row-index="{last}"] .ag-cell[col-id="message"]'

    def bottom() -> list[WebElement]:  # the table grew under the first scroll: scroll again
        browser.execute_script(f"{VIEWPORT}.scrollTop = 1e6")
        return css(browser, cell)

    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center'})", until(browser, bottom, "last row")[0]
    )
    click(browser, cell)
    opened = until(browser, lambda: css(browser, "#bug-doc .doc-open"), "the occurrence")[0]
    assert opened.get_attribute("data-event-id") == newest_first[last]
    whole = stack.client.get(f"/api/v1/events/{newest_first[last]}").json()
    assert whole["context"]["attempt"] == last
    assert css(browser, "#bug-doc pre.stack")[0].text == "\n".join(whole["stack_trace"])
    assert '"attempt": ' + str(last) in css(browser, "#bug-doc pre.json")[0].text
    click(browser, "#bug-doc .doc-head button")
    until(browser, lambda: not css(browser, "#bug-doc .doc-open"), "closed")
