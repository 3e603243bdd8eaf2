"""Acceptance of the repair agent, through the dashboard, as a user meets it.

The stack runs the way `logcenter up` runs it: the API, an indexer, a `logcenter worker` pool and
`logcenter dashboard` as real processes sharing one environment (Redis with a key prefix of this
test's own, a SQLite store under the tmp dir, the workers' model the scripted LLM server). The
calc project is configured with a real checkout and a bare origin; its bug is reported as the
project's code fails; a user clicks Repair on the bug's page and watches it end FIXED.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from agent.queue import repair_queue
from bench.services import RedisServer, wait_for
from bench.stack import RunningStack, running_stack, stack_env
from tests.agent import replies
from tests.agent.llm_server import LLMServer
from tests.agent.scenario import ADMIN_TOKEN, LLM_KEY, Scenario
from tests.browser import click, css, sign_in, until
from tests.repos import OPS, Repos, git

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Two LLM answers, two test runs and a push on a busy machine; the page polls every 3 s.
REPAIR_DEADLINE = 180


@pytest.fixture
def up(
    redis_server: RedisServer, tmp_path: Path, llm: LLMServer
) -> Iterator[tuple[RunningStack, str]]:
    """API + indexer + `logcenter worker --workers 1` + `logcenter dashboard`, all with the one
    environment `logcenter up` gives its children; (the stack, the dashboard's URL)."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    env = stack_env(
        redis_server.url,
        prefix,
        admin_token=ADMIN_TOKEN,
        auto_repair="false",  # the user asks for this repair: it is not queued by itself
        llm_model="openai/scripted",
        llm_api_base=llm.url,
        llm_api_key=LLM_KEY,
        llm_timeout="30",
        llm_retries="0",
        test_timeout="120",
        worker_cache_dir=str(tmp_path / "worker-cache"),
    )
    with running_stack(tmp_path / "stack", env) as stack:
        stack.spawn("worker", "worker", "--workers", "1")
        dashboard = stack.start_dashboard()
        redis = Redis.from_url(redis_server.url)
        queue = repair_queue(redis, prefix)
        wait_for(
            lambda: len(Worker.all(queue=queue)) == 1,
            60,
            f"a repair worker on {queue.name} (log: {stack.workdir / 'worker.log'})",
        )
        redis.close()
        yield stack, dashboard


def test_repair_clicked_in_the_dashboard_ends_fixed_with_its_timeline(
    up: tuple[RunningStack, str],
    redis_server: RedisServer,
    repos: Repos,
    llm: LLMServer,
    browser: WebDriver,
    screenshot: Callable[[str], Path],
) -> None:
    stack, dashboard = up
    user_changes = git(repos.checkout, "status", "--porcelain")
    scenario = Scenario(stack, redis_server.url)
    try:
        scenario.configure(local_path=str(repos.checkout))
        bug_id = scenario.report()
    finally:
        scenario.close()
    llm.state.script(replies.REPRODUCTION, replies.RIGHT_FIX)

    sign_in(browser, dashboard, ADMIN_TOKEN)
    browser.get(f"{dashboard}/bugs/{bug_id}")
    until(browser, lambda: css(browser, ".bug-head .status-new"), "the bug's page, status NEW")
    assert "No repair has run" in css(browser, "#bug-timeline")[0].text
    click(browser, "#bug-repair")
    until(browser, lambda: "Repair queued" in css(browser, "#bug-message")[0].text, "queued")

    until(
        browser,
        lambda: css(browser, ".bug-head .status-fixed"),
        "the page to show FIXED",
        REPAIR_DEADLINE,
    )
    # The verification (reproduced) and fixing round 1, both passed, each with its analysis.
    rounds = css(browser, ".timeline li.round")
    assert [r.get_attribute("class") for r in rounds] == ["round passed", "round passed"]
    verify, fix = rounds
    assert "VERIFYING" in verify.text and "an empty list raises ZeroDivisionError" in verify.text
    assert "Round 1" in fix.text and "FIXING" in fix.text
    assert "Guard the empty list before dividing." in fix.text
    # The coloured diff of the fix, and the changed files (fix + reproduction test).
    added = [s.text for s in fix.find_elements(By.CSS_SELECTOR, ".diff .diff-add")]
    assert "+    if not values:" in added and "+        return 0.0" in added
    ctx = fix.find_elements(By.CSS_SELECTOR, ".diff .diff-ctx")[0]
    new_line = fix.find_elements(By.CSS_SELECTOR, ".diff .diff-add")[0]
    assert new_line.value_of_css_property("color") != ctx.value_of_css_property("color")
    timeline = css(browser, "#bug-timeline")[0].text
    assert "calc/ops.py" in timeline and replies.REPRO_PATH in timeline
    # The trace folded, so the page from its head to the last round fits one screenshot.
    click(browser, "#bug-stack summary")
    until(browser, lambda: css(browser, "#bug-stack:not([open])"), "the stack trace folds")
    # The passing test result, opened as a reader would.
    click(browser, ".timeline li.round:last-child details summary")
    output = until(
        browser,
        lambda: css(browser, ".timeline li.round")[-1].find_element(
            By.CSS_SELECTOR, "details[open] .test-output"
        ),
        "the test output opens",
    )
    # The reproduction test alone, then the project's suite with it, both on the interpreter of
    # the project's own virtualenv (the checkout's .venv), not the worker's.
    assert output.text.startswith("sandbox: bubblewrap: no network, host read-only, uid ")
    venv_python = f"$ {repos.checkout}/.venv/bin/python -m pytest -q"
    assert f"{venv_python} -p no:cacheprovider {replies.REPRO_PATH}" in output.text
    assert "1 passed" in output.text and "3 passed" in output.text
    assert "failed" not in output.text

    # Scrolled to its end, where pytest's summary is.
    browser.execute_script("arguments[0].scrollTop = arguments[0].scrollHeight", output)
    shot = screenshot("repair")
    assert shot.exists() and shot.stat().st_size > 10_000

    # The worker said at start how repairs run.
    worker_log = (stack.workdir / "worker.log").read_text()
    assert "logcenter worker: repairs run sandboxed (bubblewrap: no network" in worker_log
    # The API agrees; the fix is on origin's fix branch; the user's checkout is as it was.
    bug = stack.client.get(f"/api/v1/bugs/{bug_id}").json()
    assert bug["status"] == "FIXED"
    branch = f"logcenter/fix-{bug_id}"
    assert f"{branch} " in timeline
    commit = git(repos.origin, "rev-parse", branch)
    assert commit in timeline
    fixed = git(repos.origin, "show", f"{branch}:calc/ops.py")
    assert "if not values:\n        return 0.0" in fixed
    assert git(repos.origin, "rev-parse", "main") == repos.base_commit
    assert git(repos.checkout, "rev-parse", "HEAD") == repos.base_commit
    assert git(repos.checkout, "status", "--porcelain") == user_changes
    assert (repos.checkout / "README.md").read_text() == "# calc\n\nwork in progress\n"
    assert (repos.checkout / "calc" / "ops.py").read_text() == OPS
