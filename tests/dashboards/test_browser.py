"""The dashboard in headless Chromium against a real stack (API + indexer processes)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from bench.stack import RunningStack
from dashboards import documents
from tests.browser import click, css, grid_row, settled, sign_in, until
from tests.dashboards.conftest import ADMIN_TOKEN
from tests.dashboards.seed import Seeded

pytestmark = pytest.mark.browser

Shot = Callable[[str], Path]


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def bug_rows(browser: WebDriver) -> list[int]:
    return [int(r.get_attribute("data-bug-id") or 0) for r in css(browser, "tr.bug-row")]


def api_bug_ids(stack: RunningStack, **params: Any) -> list[int]:
    body = stack.client.get("/api/v1/bugs", params={"size": 100, **params}).json()
    return [bug["id"] for bug in body["items"]]


def assert_healthy_page(browser: WebDriver, base: str) -> None:
    """Everything the page loaded came from the dashboard itself (air-gapped installs), and the
    browser logged no errors (React rejects malformed layouts only in the console)."""
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    foreign = [u for u in urls if not u.startswith(base)]
    assert urls and not foreign, foreign
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


@pytest.fixture
def signed_in(browser: WebDriver, dashboard: str) -> WebDriver:
    """A browser that already holds the admin token, in English."""
    return sign_in(browser, dashboard, ADMIN_TOKEN)


def test_search_and_facets_change_the_table_and_the_url(
    signed_in: WebDriver, dashboard: str, stack: RunningStack, seeded: Seeded, screenshot: Shot
) -> None:
    browser = signed_in
    browser.get(dashboard + "/")
    until(browser, lambda: len(bug_rows(browser)) == seeded.total, "all seeded bugs listed")
    reason = css(browser, f'tr[data-bug-id="{seeded.failed}"] .failure-reason')[0].text
    assert "test_get_user_rejects_text" in reason
    assert css(browser, f'tr[data-bug-id="{seeded.failed}"] .status-fix-failed')
    assert_healthy_page(browser, dashboard)
    screenshot("bugs")

    search = css(browser, "#bugs-search")[0]
    search.send_keys("error_type:ValueError", Keys.ENTER)
    until(browser, lambda: bug_rows(browser) == [seeded.failed], "the query narrows the table")
    assert "q=error_type%3AValueError" in browser.current_url

    click(browser, "#bugs-clear")
    until(browser, lambda: len(bug_rows(browser)) == seeded.total, "filters cleared")
    click(browser, '.facet-status button[title="NEW"]')
    expected_new = api_bug_ids(stack, status="NEW")
    until(browser, lambda: sorted(bug_rows(browser)) == sorted(expected_new), "status facet")
    assert "status=NEW" in browser.current_url
    assert css(browser, '.facet-status button.selected[title="NEW"]')
    # The download follows the search: every bug it finds, whatever the page shows.
    reply = httpx.get(download_href(browser, "ndjson"), headers=ADMIN, timeout=30)
    assert [json.loads(line)["id"] for line in reply.text.splitlines()] == expected_new

    click(browser, '.facet-level button[title="ERROR"]')
    both = api_bug_ids(stack, status="NEW", level="ERROR")
    until(browser, lambda: sorted(bug_rows(browser)) == sorted(both), "two facets combine (AND)")
    assert both != expected_new and "level=ERROR" in browser.current_url
    count = css(browser, '.facet-level button[title="ERROR"] .facet-count')[0].text
    assert int(count) == len(both)

    browser.back()
    until(browser, lambda: "level=ERROR" not in browser.current_url, "back in history")
    until(browser, lambda: sorted(bug_rows(browser)) == sorted(expected_new), "previous table")

    search = css(browser, "#bugs-search")[0]
    search.send_keys("status:(", Keys.ENTER)  # the API's 400 is shown, not a blank page
    until(browser, lambda: "400" in css(browser, "#bugs-results .alert.error")[0].text, "bad q")

    browser.get(dashboard + "/?status=FIX_FAILED&status=FIXED")  # a shared link
    until(
        browser,
        lambda: sorted(bug_rows(browser)) == sorted([seeded.failed, seeded.fixed]),
        "a URL with filters opens that search",
    )


def test_bug_detail_shows_stack_history_and_repair_timeline(
    signed_in: WebDriver, dashboard: str, seeded: Seeded, screenshot: Shot
) -> None:
    browser = signed_in
    browser.get(f"{dashboard}/bugs/{seeded.failed}")
    stack = until(browser, lambda: css(browser, "#bug-stack pre.stack")[0], "stack trace")
    assert "Traceback (most recent call last):" in stack.text
    assert "apps/users/views.py:42" in css(browser, ".facts")[0].text
    assert "u_12345" in browser.page_source  # context table
    rounds = until(browser, lambda: css(browser, ".timeline li.round") or None, "timeline")
    assert len(rounds) == 2 and all("failed" in r.get_attribute("class") for r in rounds)
    assert css(browser, ".timeline .diff .diff-add") and css(browser, ".timeline .diff .diff-del")
    assert "test_get_user_rejects_text still fails" in rounds[0].text
    assert "tests still fail after 2 rounds" in css(browser, ".alert.failure-reason")[0].text
    until(browser, lambda: css(browser, "#bug-chart .strip-bars .bar"), "occurrences chart")
    rows = "#bug-grid .ag-row:not(.ag-row-loading)"
    until(browser, lambda: len(css(browser, rows)) == 5, "every occurrence in the table")
    assert "FIX_FAILED" in css(browser, ".history")[0].text
    # No repair worker runs in this stack: the page says so next to Repair.
    off = css(browser, "#bug-repair-off .repair-state.off")[0].text
    assert "no repair worker is running" in off
    assert_healthy_page(browser, dashboard)
    screenshot("bug")

    click(browser, "#bug-stack summary")
    until(
        browser,
        lambda: css(browser, "#bug-stack")[0].get_attribute("open") is None,
        "stack trace collapses",
    )


def test_regressions_are_marked(signed_in: WebDriver, dashboard: str, seeded: Seeded) -> None:
    browser = signed_in
    browser.get(dashboard + "/?q=error_type:TypeError")
    row = f'tr[data-bug-id="{seeded.regressed}"]'
    until(browser, lambda: css(browser, f"{row} .regression-mark"), "mark in the list")
    assert not css(browser, f'tr[data-bug-id="{seeded.fixed}"] .regression-mark')
    browser.get(f"{dashboard}/bugs/{seeded.regressed}")
    until(browser, lambda: "×1" in css(browser, ".bug-head .regression-mark")[0].text, "head mark")
    marks = css(browser, ".history .regression-mark")
    assert len(marks) == 1 and "regression" in marks[0].text
    # The move to FIXED recorded the newest release seen then as the one it was fixed in.
    assert "1.2.3" in css(browser, ".history")[0].text
    assert "Newest version" in css(browser, ".facts")[0].text


def _move(browser: WebDriver, status: str) -> None:
    click(browser, f"#bug-actions .move .status-{status}")


def test_status_moves_follow_the_workflow(
    signed_in: WebDriver, dashboard: str, stack: RunningStack, seeded: Seeded
) -> None:
    browser = signed_in
    bug_url = f"/api/v1/bugs/{seeded.new}"
    browser.get(dashboard + f"/bugs/{seeded.new}")
    for status in ("verifying", "pending-fix", "fixing"):
        _move(browser, status)
        until(browser, lambda s=status: css(browser, f".bug-head .status-{s}"), f"now {status}")
    assert stack.client.get(bug_url).json()["status"] == "FIXING"

    _move(browser, "fix-failed")  # no reason given: refused before the API
    until(
        browser,
        lambda: "failure reason is required" in css(browser, "#bug-message")[0].text,
        "reason required message",
    )
    assert stack.client.get(bug_url).json()["status"] == "FIXING"

    css(browser, "#bug-reason")[0].send_keys("flaky upstream API; cannot fix here")
    _move(browser, "fix-failed")
    until(browser, lambda: css(browser, ".bug-head .status-fix-failed"), "now FIX_FAILED")
    bug = stack.client.get(bug_url).json()
    assert bug["status"] == "FIX_FAILED"
    assert bug["failure_reason"] == "flaky upstream API; cannot fix here"

    # A version typed beforehand goes with the move to FIXED only (the API refuses it with any
    # other move, so the earlier moves would fail if it were sent with them).
    css(browser, "#bug-fixed-version")[0].send_keys("2.0.0")
    for status in ("pending-fix", "fixing", "fixed"):
        _move(browser, status)
        until(browser, lambda s=status: css(browser, f".bug-head .status-{s}"), f"now {status}")
    assert stack.client.get(bug_url).json()["fixed_version"] == "2.0.0"


def test_repair_button_queues_once_and_the_timeline_updates_live(
    signed_in: WebDriver, dashboard: str, stack: RunningStack, seeded: Seeded
) -> None:
    browser = signed_in
    browser.get(dashboard + f"/bugs/{seeded.fixed}")
    until(browser, lambda: len(css(browser, ".timeline li.round")) == 1, "one round so far")
    click(browser, "#bug-repair")
    until(browser, lambda: "Repair queued" in css(browser, "#bug-message")[0].text, "queued")
    click(browser, "#bug-repair")
    until(browser, lambda: "already queued" in css(browser, "#bug-message")[0].text, "409 shown")

    # A worker reports a round through the API; the open page shows it without a reload.
    response = stack.client.post(
        f"/api/v1/bugs/{seeded.fixed}/repair-reports",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={
            "round": 2,
            "passed": False,
            "analysis": "live round",
            "failure_reason": "patch did not apply",
        },
    )
    assert response.status_code == 201, response.text
    until(browser, lambda: len(css(browser, ".timeline li.round")) == 2, "new round appears")
    assert "patch did not apply" in css(browser, ".timeline li.round")[-1].text


def _cell(browser: WebDriver, project: str, column: str) -> WebElement:
    return css(browser, f'.ag-row[row-id="{project}"] .ag-cell[col-id="{column}"]')[0]


def _edit(browser: WebDriver, project: str, column: str, text: str) -> None:
    ActionChains(browser).double_click(_cell(browser, project, column)).perform()
    editor = until(
        browser,
        lambda: _cell(browser, project, column).find_element(By.CSS_SELECTOR, "input"),
        "cell editor",
    )
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(text, Keys.ENTER)


def test_projects_grid_marks_missing_config_and_saves_edits(
    signed_in: WebDriver, dashboard: str, stack: RunningStack, seeded: Seeded, screenshot: Shot
) -> None:
    browser = signed_in
    browser.get(dashboard + "/projects")
    until(browser, lambda: _cell(browser, "rtc_web", "local_path"), "grid rows")
    assert "cell-missing" in _cell(browser, "rtc_web", "local_path").get_attribute("class")
    assert "cell-missing" in _cell(browser, "airhub_app", "local_path").get_attribute("class")
    assert "cell-missing" not in _cell(browser, "rtc_backend", "local_path").get_attribute("class")
    assert "cell-missing" in _cell(browser, "rtc_web", "repo_url").get_attribute("class")
    assert_healthy_page(browser, dashboard)
    screenshot("projects")

    new_url = "https://gitea.example.com/team/rtc_web.git"
    _edit(browser, "rtc_web", "repo_url", new_url)
    until(browser, lambda: "rtc_web" in css(browser, "#projects-message .saved")[0].text, "saved")
    stored = stack.client.get("/api/v1/projects/rtc_web").json()
    assert stored["repo_url"] == new_url
    until(
        browser,
        lambda: "cell-missing" not in _cell(browser, "rtc_web", "repo_url").get_attribute("class"),
        "the red mark goes away",
    )

    # A value the API refuses: the error is shown and the stored value comes back.
    _edit(browser, "rtc_web", "repo_url", "-upload-pack=evil")
    until(browser, lambda: css(browser, "#projects-message .alert.error"), "error shown")
    until(browser, lambda: _cell(browser, "rtc_web", "repo_url").text == new_url, "value restored")
    assert stack.client.get("/api/v1/projects/rtc_web").json()["repo_url"] == new_url

    # Retention: unset shows the install's default it follows; a number typed in is saved.
    assert _cell(browser, "rtc_web", "retention_days").text == "default (30)"
    _edit(browser, "rtc_web", "retention_days", "14")

    def stored_retention() -> Any:
        return stack.client.get("/api/v1/projects/rtc_web").json()["retention_days"]

    until(browser, lambda: stored_retention() == 14, "retention saved")
    until(browser, lambda: _cell(browser, "rtc_web", "retention_days").text == "14", "14 shown")


def test_projects_show_the_reported_toolchain_and_mark_what_is_missing(
    signed_in: WebDriver, dashboard: str, stack: RunningStack, seeded: Seeded
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    reported = {
        "name": "pytest",
        "language": "python",
        "test_command": "python -m pytest -q",
        "missing": ["node", "npm"],
        "problem": "node is not installed on this worker",
    }
    for project, body in (("rtc_backend", reported), ("airhub_app", {"name": None})):
        reply = stack.client.put(f"/api/v1/projects/{project}/toolchain", json=body, headers=admin)
        assert reply.status_code == 200, reply.text
    # A report of today, as the seeded ones are (Discover's test counts the last 24 hours).
    ignored_url = {"repo_url": "ftp://files/app.git", "timestamp": None}
    assert stack.report(project_id="airhub_app", **ignored_url).status_code == 200

    def warning() -> Any:
        return stack.client.get("/api/v1/projects/airhub_app").json()["repo_url_warning"]

    stack.wait_until(lambda: warning() is not None, what="the ignored repo_url recorded")
    browser = signed_in
    browser.get(dashboard + "/projects")
    until(browser, lambda: _cell(browser, "rtc_backend", "toolchain").text, "toolchain column")
    assert _cell(browser, "rtc_backend", "toolchain").text == "python · pytest"
    assert "cell-missing" not in _cell(browser, "rtc_backend", "toolchain").get_attribute("class")
    command = _cell(browser, "rtc_backend", "toolchain_test_command").text
    assert command == "python -m pytest -q"
    missing = _cell(browser, "rtc_backend", "toolchain_missing")
    assert missing.text == "node, npm" and "cell-missing" in missing.get_attribute("class")
    nothing = _cell(browser, "airhub_app", "toolchain")
    assert nothing.text == "none detected" and "cell-missing" in nothing.get_attribute("class")
    ignored = _cell(browser, "airhub_app", "repo_url_warning")
    assert ignored.text == warning() and "must be an http(s)://" in ignored.text
    assert "cell-missing" in ignored.get_attribute("class")
    unwarned = _cell(browser, "rtc_web", "repo_url_warning")
    assert "cell-missing" not in unwarned.get_attribute("class")
    never = _cell(browser, "rtc_web", "toolchain")  # no repair has looked yet: not red
    assert never.text == "" and "cell-missing" not in never.get_attribute("class")
    state = css(browser, "#projects-repair-state .repair-state.off")[0].text
    assert "Automatic repair is off: no repair worker is running" in state

    # auto_repair: unset follows the install's default; the select sets and clears it.
    assert _cell(browser, "rtc_web", "auto_repair").text == "default (on)"

    def stored_auto_repair() -> Any:
        return stack.client.get("/api/v1/projects/rtc_web").json()["auto_repair"]

    for choice, stored in (("off", False), ("default (on)", None)):
        ActionChains(browser).double_click(_cell(browser, "rtc_web", "auto_repair")).perform()
        click(browser, ".ag-cell-editor .ag-picker-field-wrapper")  # opens the list
        option = until(
            browser,
            lambda c=choice: next((o for o in css(browser, ".ag-list-item") if o.text == c), None),
            f"the {choice!r} option",
        )
        option.click()
        until(browser, lambda s=stored: stored_auto_repair() is s, f"saved as {stored}")
        until(browser, lambda c=choice: _cell(browser, "rtc_web", "auto_repair").text == c, choice)


def test_discover_query_histogram_fields_and_zoom(
    signed_in: WebDriver, dashboard: str, stack: RunningStack, seeded: Seeded
) -> None:
    browser = signed_in
    browser.get(dashboard + "/discover")
    total = sum(b["count"] for b in stack.client.get("/api/v1/bugs").json()["items"])
    until(browser, lambda: css(browser, "#discover-total")[0].text == f"{total} hits", "hits")
    bars = until(browser, lambda: css(browser, "#discover-histogram .bars path"), "histogram")
    assert len(bars) >= 2
    assert_healthy_page(browser, dashboard)

    settled(browser)  # the page may render again once its language is known
    query = css(browser, "#discover-query")[0]
    query.send_keys("level:CRITICAL", Keys.ENTER)
    until(browser, lambda: css(browser, "#discover-total")[0].text == "1 hits", "query applied")
    until(browser, lambda: "q=level%3ACRITICAL" in browser.current_url, "the URL holds the query")
    click(browser, '#discover-fields button[title="project_id:\\"airhub_app\\""]')
    until(browser, lambda: css(browser, '.pill[data-pill="project_id:airhub_app"]'), "a pill")
    assert css(browser, "#discover-query")[0].get_attribute("value") == "level:CRITICAL"
    until(browser, lambda: "filter=project_id%3Aairhub_app" in browser.current_url, "pill URL")
    until(browser, lambda: css(browser, "#discover-total")[0].text == "1 hits", "still one hit")

    until(browser, lambda: len(grid_rows(browser)) == 1, "one document in the table")
    settled(browser)  # the table reloaded for the pill: its row stays put now
    click(browser, f"{LOADED_ROW} .ag-cell")
    until(browser, lambda: "airhub_app" in css(browser, "#discover-doc .doc-open")[0].text, "open")

    click(browser, '.pill[data-pill="project_id:airhub_app"] .pill-remove')
    until(browser, lambda: not css(browser, ".pill"), "the pill removed")
    query = css(browser, "#discover-query")[0]
    query.send_keys(Keys.CONTROL, "a")
    query.send_keys(Keys.BACKSPACE, Keys.ENTER)
    until(browser, lambda: css(browser, "#discover-total")[0].text == f"{total} hits", "all again")
    drag = css(browser, "#discover-histogram .nsewdrag")[0]
    width = drag.size["width"]
    (
        ActionChains(browser)
        .move_to_element_with_offset(drag, -width // 2 + 5, 0)
        .click_and_hold()
        .move_by_offset(width // 3, 0)
        .move_by_offset(5, 0)
        .release()
        .perform()
    )
    until(
        browser,
        lambda: css(browser, "#discover-from")[0].get_attribute("value"),
        "zoom sets an absolute range",
    )
    narrowed = int(css(browser, "#discover-total")[0].text.split()[0])
    until(
        browser,
        lambda: int(css(browser, "#discover-total")[0].text.split()[0]) < total,
        f"fewer hits after zooming (was {narrowed})",
    )
    until(browser, lambda: "from=" in browser.current_url, "the URL holds the zoomed range")

    # A shared URL opens the same view; back returns to the view before it.
    browser.get(dashboard + "/discover?q=level%3ACRITICAL&range=7d")
    until(browser, lambda: css(browser, "#discover-total")[0].text == "1 hits", "URL view")
    assert css(browser, "#discover-query")[0].get_attribute("value") == "level:CRITICAL"
    settled(browser)
    query = css(browser, "#discover-query")[0]
    query.send_keys(Keys.CONTROL, "a")
    query.send_keys(Keys.BACKSPACE, Keys.ENTER)
    until(browser, lambda: css(browser, "#discover-total")[0].text == f"{total} hits", "cleared")
    browser.back()
    until(browser, lambda: css(browser, "#discover-total")[0].text == "1 hits", "back restores")
    assert css(browser, "#discover-query")[0].get_attribute("value") == "level:CRITICAL"


LOADED_ROW = "#discover-grid .ag-row:not(.ag-row-loading)"


def grid_rows(browser: WebDriver) -> list[WebElement]:
    return css(browser, LOADED_ROW)


def grid_headers(browser: WebDriver) -> list[str]:
    cells = css(browser, "#discover-grid .ag-header-cell")
    return [c.get_attribute("col-id") or "" for c in cells]


def column_texts(browser: WebDriver, column: str) -> list[str]:
    """A column's cells, top row first."""
    cells = {
        int(row.get_attribute("row-index") or 0): row.find_element(
            By.CSS_SELECTOR, f'.ag-cell[col-id="{column}"]'
        ).text
        for row in grid_rows(browser)
    }
    return [cells[i] for i in sorted(cells)]


def discover_body() -> dict[str, Any]:
    """The search the Discover page makes for its default view (last 24 h, newest first)."""
    return documents.rows_body({}, datetime.now(UTC), {"startRow": 0, "endRow": 100}, {})


def test_discover_columns_follow_the_chooser_and_a_row_opens_its_occurrence(
    signed_in: WebDriver, dashboard: str, stack: RunningStack, seeded: Seeded
) -> None:
    browser = signed_in
    browser.get(dashboard + "/discover")
    until(browser, lambda: grid_rows(browser), "documents in the table")
    assert grid_headers(browser) == ["timestamp", "level", "project_id", "error_type", "message"]

    click(browser, "#discover-columns")
    click(browser, '.dash-dropdown-option:has(input[value="level"])')  # off
    click(browser, '.dash-dropdown-option:has(input[value="context.user_id"])')  # on
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    chosen = ["timestamp", "project_id", "error_type", "message", "context.user_id"]
    until(browser, lambda: grid_headers(browser) == chosen, "the chosen columns")
    until(browser, lambda: "columns=" in browser.current_url, "the URL holds the columns")
    assert "columns=" + "%2C".join(chosen) in browser.current_url
    items = stack.client.post("/api/v1/events/search", json=discover_body()).json()["items"]
    expected = [(i.get("context") or {}).get("user_id", "") for i in items]

    def shown() -> list[str]:  # the rows in view, top first, as the API lists them
        texts = column_texts(browser, "context.user_id")
        return texts if texts == expected[: len(texts)] else []

    assert "u_12345" in until(browser, shown, "context cells")

    browser.get(browser.current_url)  # the shared link opens the same table
    until(browser, lambda: grid_rows(browser), "documents again")
    assert grid_headers(browser) == chosen

    listed = grid_row(browser, "discover-grid", 0) or {}
    assert listed["id"] and "stack_trace" not in listed  # the grid holds cells only
    click(browser, f'{LOADED_ROW}[row-index="0"] .ag-cell[col-id="message"]')
    opened = until(browser, lambda: css(browser, "#discover-doc .doc-open"), "the occurrence")[0]
    assert opened.get_attribute("data-event-id") == listed["id"]
    whole = stack.client.get(f"/api/v1/events/{listed['id']}").json()
    assert css(browser, "#discover-doc pre.stack")[0].text == "\n".join(whole["stack_trace"])
    assert json.loads(css(browser, "#discover-doc pre.json")[0].text) == whole
    click(browser, "#discover-doc .doc-head button")
    until(browser, lambda: not css(browser, "#discover-doc .doc-open"), "closed")


def hits(browser: WebDriver) -> int:
    return int(css(browser, "#discover-total")[0].text.split()[0] or -1)


def events(stack: RunningStack, q: str) -> dict[str, Any]:
    """The API's answer to a Discover search of the last 7 days, newest first."""
    body = {**documents.rows_body({"q": q, "quick": "7d"}, datetime.now(UTC), {}, {})}
    body.update(size=500, facets=["level"])
    reply = stack.client.post("/api/v1/events/search", json=body)
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()
    return found


def download_href(browser: WebDriver, fmt: str) -> str:
    link = css(browser, f'a.download[id*=\'"format":"{fmt}"\']')[0]
    return link.get_attribute("href") or ""


def shown_fields(browser: WebDriver) -> list[str]:
    panels = css(browser, "#discover-fields .facet")
    return [json.loads(p.get_attribute("id") or "{}")["field"] for p in panels if p.is_displayed()]


def choose(browser: WebDriver, dropdown: str, label: str) -> None:
    """Pick `label` in a single-choice dropdown."""
    click(browser, dropdown)

    def pick() -> bool:
        options = css(browser, ".dash-dropdown-option")
        next(o for o in options if o.text.strip() == label).click()
        return True

    until(browser, pick, f"option {label}")


def test_discover_pills_sidebar_saved_search_and_download(
    signed_in: WebDriver, dashboard: str, stack: RunningStack, seeded: Seeded, screenshot: Shot
) -> None:
    browser = signed_in
    columns = ["timestamp", "message", "level"]
    browser.get(f"{dashboard}/discover?range=7d&columns={','.join(columns)}")
    everything = events(stack, "")
    total = everything["total"]
    errors = next(v["count"] for v in everything["facets"]["level"] if v["value"] == "ERROR")
    assert 0 < errors < total
    until(browser, lambda: hits(browser) == total, "every hit of 7 days")
    value = '#discover-fields button[title="level:\\"ERROR\\""]'
    share = until(browser, lambda: css(browser, f"{value} .facet-share")[0].text, "top values")
    assert share == f"{errors} of {total} ({100 * errors / total:.1f}%)"

    css(browser, "#discover-field-filter")[0].send_keys("lev")
    until(browser, lambda: shown_fields(browser) == ["level"], "only the matching field")
    css(browser, "#discover-field-filter")[0].send_keys(Keys.BACKSPACE * 3)
    until(browser, lambda: len(shown_fields(browser)) == len(documents.FIELDS), "every field")

    click(browser, value)
    until(browser, lambda: hits(browser) == errors, "the pill keeps the value's hits")
    click(browser, '.pill[data-pill="level:ERROR"] .pill-negate')
    until(browser, lambda: hits(browser) == total - errors, "negated: the value's hits go")
    assert "filter=-level%3AERROR" in browser.current_url
    click(browser, '.pill[data-pill="-level:ERROR"] .pill-disable')
    until(browser, lambda: hits(browser) == total, "disabled: every hit again")
    assert (
        css(browser, ".pill.disabled .pill-text")[0].value_of_css_property("text-decoration-line")
        == "line-through"
    )
    click(browser, '.pill[data-pill="!-level:ERROR"] .pill-disable')
    until(browser, lambda: hits(browser) == total - errors, "enabled again")

    settled(browser)
    css(browser, "#discover-query")[0].send_keys("environment:staging", Keys.ENTER)
    found = events(stack, 'environment:staging AND NOT level:"ERROR"')
    assert 0 < found["total"] < total - errors
    until(browser, lambda: hits(browser) == found["total"], "the query and the pill (AND)")
    until(
        browser,
        lambda: css(browser, "#share-link")[0].get_attribute("value") == browser.current_url,
        "the share link is the page's URL",
    )

    # The download is the search: same rows, same order, in both formats.
    cookies = browser.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    token = next(c for c in cookies if c["name"] == "logcenter_token")
    assert unquote(token["value"]) == ADMIN_TOKEN and token["path"] == "/download"
    jar = {"logcenter_token": token["value"]}
    reply = httpx.get(download_href(browser, "csv"), cookies=jar, timeout=30)
    assert reply.status_code == 200, reply.text
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [r["id"] for r in rows] == [e["id"] for e in found["items"]]
    assert [r["message"] for r in rows] == [e["message"] for e in found["items"]]
    reply = httpx.get(download_href(browser, "ndjson"), cookies=jar, timeout=30)
    lines = [json.loads(line) for line in reply.text.splitlines()]
    assert [e["id"] for e in lines] == [e["id"] for e in found["items"]]

    name = "staging, not errors"
    css(browser, "#saved-name")[0].send_keys(name)
    click(browser, "#saved-save")
    until(browser, lambda: name in css(browser, "#saved-message")[0].text, "saved")
    until(browser, lambda: grid_rows(browser), "documents")
    assert_healthy_page(browser, dashboard)
    screenshot("discover")
    saved = stack.client.get("/api/v1/searches").json()["searches"]
    kept = next(s for s in saved if s["name"] == name)
    assert (kept["q"], kept["columns"], kept["range"]) == ("environment:staging", columns, "7d")
    assert kept["filters"] == [
        {"field": "level", "value": "ERROR", "negated": True, "disabled": False}
    ]

    # Another view, then the saved search opens as it was kept.
    click(browser, '.pill[data-pill="-level:ERROR"] .pill-remove')
    choose(browser, "#discover-quick", "Last 24 hours")
    settled(browser)
    query = css(browser, "#discover-query")[0]
    query.send_keys(Keys.CONTROL, "a")
    query.send_keys(Keys.BACKSPACE, Keys.ENTER)
    until(browser, lambda: not css(browser, ".pill") and "q=" not in browser.current_url, "reset")
    until(browser, lambda: hits(browser) > found["total"], "the hits of the other view")
    settled(browser)
    choose(browser, "#saved-list", name)
    until(
        browser,
        lambda: css(browser, "#discover-query")[0].get_attribute("value") == "environment:staging",
        "the saved query",
    )
    until(browser, lambda: hits(browser) == found["total"], "the saved search's hits")
    assert [p.get_attribute("data-pill") for p in css(browser, ".pill")] == ["-level:ERROR"]
    until(browser, lambda: grid_headers(browser) == columns, "the saved columns")
    assert "range=7d" in browser.current_url
    assert "Last 7 days" in css(browser, "#discover-quick")[0].text
    click(browser, "#saved-delete")
    until(browser, lambda: css(browser, "#saved-message")[0].text == "Deleted.", "deleted")
    names = [s["name"] for s in stack.client.get("/api/v1/searches").json()["searches"]]
    assert name not in names

    # Auto-refresh: a new occurrence shows up unasked.
    choose(browser, "#discover-refresh", "Refresh every 10 s")
    until(browser, lambda: "refresh=10s" in browser.current_url, "the URL holds the refresh")
    settled(browser)
    new = {"environment": "staging", "level": "WARNING", "timestamp": None}
    assert stack.report(**new).status_code == 200
    until(browser, lambda: hits(browser) == found["total"] + 1, "refreshed", timeout=30)


def test_repairs_page_filters_by_result(
    signed_in: WebDriver, dashboard: str, seeded: Seeded, screenshot: Shot
) -> None:
    browser = signed_in
    browser.get(dashboard + "/repairs")
    until(browser, lambda: len(css(browser, "tr.report-row")) >= 3, "reports listed")
    assert_healthy_page(browser, dashboard)
    screenshot("repairs")
    click(browser, "#repairs-result input[value='passed']")
    until(
        browser,
        lambda: (
            css(browser, "tr.report-row")
            and all("passed" in r.text for r in css(browser, "tr.report-row"))
        ),
        "only passed rounds",
    )
    click(browser, "#repairs-result input[value='failed']")
    until(
        browser,
        lambda: (
            css(browser, "tr.report-row")
            and all("failed" in r.text for r in css(browser, "tr.report-row"))
        ),
        "only failed rounds",
    )
    assert "test_get_user_rejects_text still fails" in css(browser, "#repairs-table")[0].text
    click(browser, f'#repairs-table a[href="/bugs/{seeded.failed}"]')
    until(browser, lambda: css(browser, "#bug-stack"), "the link opens the bug")


def test_language_switch_is_remembered(signed_in: WebDriver, dashboard: str) -> None:
    browser = signed_in
    browser.get(dashboard + "/repairs")
    until(browser, lambda: css(browser, "h2")[0].text == "Repair reports", "English")
    click(browser, "#lang-zh")
    until(browser, lambda: css(browser, "h2")[0].text == "修复报告", "page text in Chinese")
    assert css(browser, '#nav a[href="/"]')[0].text == "缺陷"
    browser.refresh()
    until(browser, lambda: css(browser, "h2")[0].text == "修复报告", "still Chinese after reload")
    click(browser, "#lang-en")
    until(browser, lambda: css(browser, "h2")[0].text == "Repair reports", "back to English")


def test_admin_token_is_asked_once_kept_and_sent_on_writes(
    browser: WebDriver, dashboard: str, stack: RunningStack, seeded: Seeded
) -> None:
    browser.get(dashboard + "/_dash-layout")
    browser.execute_script("localStorage.clear()")
    browser.get(dashboard + "/projects")
    until(browser, lambda: css(browser, "#token-dialog.open"), "asked for the token")
    click(browser, "#token-close")  # dismissed without a token
    until(browser, lambda: not css(browser, "#token-dialog.open"), "dialog dismissed")

    _edit(browser, "airhub_app", "description", "refused without a token")
    until(
        browser,
        lambda: "admin token" in css(browser, "#projects-message .alert.error")[0].text,
        "the refusal says why",
    )
    until(browser, lambda: css(browser, "#token-dialog.open"), "asked again on a refused write")
    assert stack.client.get("/api/v1/projects/airhub_app").json()["description"] in (None, "")

    css(browser, "#token-input")[0].send_keys(ADMIN_TOKEN)
    click(browser, "#token-save")
    until(browser, lambda: not css(browser, "#token-dialog.open"), "dialog closes")
    stored = browser.execute_script("return localStorage.getItem('token-store')")
    assert json.loads(stored) == ADMIN_TOKEN
    _edit(browser, "airhub_app", "description", "Flutter app")
    until(browser, lambda: css(browser, "#projects-message .saved"), "saved with the token")
    assert stack.client.get("/api/v1/projects/airhub_app").json()["description"] == "Flutter app"

    browser.refresh()
    until(browser, lambda: css(browser, "#token-state")[0].text == "token set", "kept")
    assert not css(browser, "#token-dialog.open")


def test_ticked_bugs_merge_into_the_chosen_one_and_the_merged_page_leads_there(
    signed_in: WebDriver, dashboard: str, stack: RunningStack
) -> None:
    keep, merged = (
        stack.report(project_id="merge_demo", line_number=n).json()["id"] for n in (7, 8)
    )
    until(browser := signed_in, lambda: len(api_bug_ids(stack, project_id="merge_demo")) == 2,
          "both bugs indexed")  # fmt: skip
    browser.get(dashboard + "/?project_id=merge_demo")
    until(browser, lambda: sorted(bug_rows(browser)) == [keep, merged], "the project's bugs")
    assert css(browser, "#bugs-merge")[0].get_attribute("disabled")
    for bug_id in (keep, merged):
        click(browser, f'tr[data-bug-id="{bug_id}"] .pick input')
    until(browser, lambda: css(browser, "#bugs-merge")[0].is_enabled(), "merge offered")
    assert f"#{keep}" in css(browser, "#bugs-merge-target")[0].text  # the first ticked
    click(browser, "#bugs-merge")
    until(browser, lambda: browser.current_url == f"{dashboard}/bugs/{keep}", "the kept bug opens")
    until(browser, lambda: f"merged bug {merged}" in css(browser, ".history")[0].text, "history")

    browser.get(f"{dashboard}/bugs/{merged}")
    click(browser, "#bug-merged-into")
    until(browser, lambda: browser.current_url.endswith(f"/bugs/{keep}"), "led to the target")
