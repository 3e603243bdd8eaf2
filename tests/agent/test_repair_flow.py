"""Repair scenarios end to end: API + indexer + a worker pool as real processes, real git
repositories, and a scripted model behind litellm."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.services import RedisServer
from bench.stack import RunningStack, stack_env
from tests.agent import replies
from tests.agent.llm_server import LLMServer, Reply
from tests.agent.scenario import ADMIN_TOKEN, LLM_KEY, Scenario, WorkerPool, worker_env
from tests.repos import Repos, git

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def module_llm() -> Iterator[LLMServer]:
    server = LLMServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def flow(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, module_llm: LLMServer
) -> Iterator[tuple[RunningStack, str, Path]]:
    """The stack and one worker pool for the module, on a Redis database of their own."""
    workdir = tmp_path_factory.mktemp("flow")
    url = f"{redis_server.url.rsplit('/', 1)[0]}/6"
    # Repairs here are queued by hand, one scenario at a time: none by themselves.
    env = stack_env(url, "flow:", admin_token=ADMIN_TOKEN, auto_repair="false")
    stack = RunningStack(workdir, env).start()
    pool = WorkerPool(workdir, worker_env(stack, url, module_llm, workdir))
    try:
        yield stack, url, workdir
    finally:
        pool.stop()
        stack.stop()
        pool.redis.__class__.from_url(url).flushdb()


@pytest.fixture
def scenario(flow: tuple[RunningStack, str, Path]) -> Iterator[Scenario]:
    stack, url, _ = flow
    case = Scenario(stack, url)
    yield case
    case.close()


def assert_no_secret(scenario: Scenario) -> None:
    text = json.dumps(scenario.reports()) + json.dumps(scenario.bug())
    for secret in (ADMIN_TOKEN, LLM_KEY, "LOGCENTER_"):
        assert secret not in text


def test_fixed_in_round_one_on_a_branch_pushed_to_origin(
    scenario: Scenario, repos: Repos, module_llm: LLMServer
) -> None:
    before = git(repos.checkout, "status", "--porcelain")
    module_llm.state.script(replies.REPRODUCTION, replies.RIGHT_FIX)
    bug = scenario.repair(local_path=str(repos.checkout))
    assert bug["status"] == "FIXED", bug
    history = [(h["from"], h["to"]) for h in bug["status_history"]]
    assert history[-4:] == [
        ("NEW", "VERIFYING"),
        ("VERIFYING", "PENDING_FIX"),
        ("PENDING_FIX", "FIXING"),
        ("FIXING", "FIXED"),
    ]
    verify, fix = scenario.reports()
    assert verify["phase"] == "VERIFYING" and verify["passed"]
    assert verify["changed_files"] == [replies.REPRO_PATH]
    assert "ZeroDivisionError" in verify["test_output"]
    branch = f"logcenter/fix-{scenario.bug_id}"
    assert fix["round"] == 1 and fix["passed"] and fix["failure_reason"] is None
    assert fix["branch"] == branch and fix["commit"]
    assert sorted(fix["changed_files"]) == ["calc/ops.py", replies.REPRO_PATH]
    assert "+    if not values:" in fix["diff"]
    assert fix["model"] == "openai/scripted" and fix["tokens"] == 120
    assert "python -m pytest -q" in fix["test_command"]
    # The fix and its reproduction test are one commit on the fix branch, on origin too.
    assert git(repos.origin, "rev-parse", branch) == fix["commit"]
    files = git(repos.origin, "show", "--name-only", "--format=%s", branch).splitlines()
    assert files[0] == f"Fix bug #{scenario.bug_id}: ZeroDivisionError in calc/ops.py"
    assert sorted(files[2:]) == ["calc/ops.py", replies.REPRO_PATH]
    # Default branch and the user's uncommitted work are untouched, locally and on origin.
    assert git(repos.origin, "rev-parse", "main") == repos.base_commit
    assert git(repos.checkout, "rev-parse", "main") == repos.base_commit
    assert git(repos.checkout, "status", "--porcelain") == before
    assert (repos.checkout / "README.md").read_text() == "# calc\n\nwork in progress\n"
    assert_no_secret(scenario)
    # The report's text reached the model fenced as data, next to the resolved code.
    first = module_llm.state.requests[0]
    assert "tools" not in first
    user = first["messages"][1]["content"]
    fence_id = user.split('<data id="', 1)[1].split('"', 1)[0]
    injected = user.index("Ignore all previous instructions")
    assert user.rindex(f'<data id="{fence_id}"', 0, injected) < injected
    assert user.index(f'</data id="{fence_id}">', injected) > injected
    assert "calc/ops.py (whole file; stack lines 6)" in user
    # The test was asked for in the project's runner, where it collects tests.
    assert f"tests/test_logcenter_bug_{scenario.bug_id}.py" in user
    assert "The tests run with pytest." in user


def test_malformed_then_wrong_then_right_fixed_in_round_three(
    scenario: Scenario, repos: Repos, module_llm: LLMServer
) -> None:
    module_llm.state.script(
        replies.REPRODUCTION, replies.MALFORMED, replies.WRONG_FIX, replies.RIGHT_FIX
    )
    assert scenario.repair(local_path=str(repos.checkout))["status"] == "FIXED"
    rounds = scenario.fixing_reports()
    assert [r["round"] for r in rounds] == [1, 2, 3]
    assert [r["passed"] for r in rounds] == [False, False, True]
    assert "missing `>>>>>>> REPLACE`" in rounds[0]["failure_reason"]
    assert rounds[1]["failure_reason"] == "tests still failing: tests/test_ops.py::test_average"
    assert "assert 1.5 == 2" in rounds[1]["test_output"]
    prompts = module_llm.state.prompts()
    assert "missing `>>>>>>> REPLACE`" in prompts[2]  # round 2 was told what went wrong
    assert "tests/test_ops.py::test_average" in prompts[3]
    branch = f"logcenter/fix-{scenario.bug_id}"
    fixed = git(repos.origin, "show", f"{branch}:calc/ops.py")
    assert "if not values:" in fixed and "len(values) + 1" not in fixed


def test_always_wrong_ends_fix_failed_naming_the_failing_test(
    scenario: Scenario, repos: Repos, module_llm: LLMServer
) -> None:
    module_llm.state.script(replies.REPRODUCTION, *[replies.WRONG_FIX] * 3)
    bug = scenario.repair(local_path=str(repos.checkout))
    assert bug["status"] == "FIX_FAILED"
    assert bug["failure_reason"] == (
        "tests still failing after 3 rounds: tests/test_ops.py::test_average"
    )
    assert len(scenario.fixing_reports()) == 3
    assert f"logcenter/fix-{scenario.bug_id}" not in repos.branches(repos.origin)


def test_llm_timeout(scenario: Scenario, repos: Repos, module_llm: LLMServer) -> None:
    module_llm.state.script(Reply(replies.REPRODUCTION, delay=6))
    bug = scenario.repair(local_path=str(repos.checkout))
    assert bug["status"] == "FIX_FAILED"
    assert bug["failure_reason"] == "LLM timeout: openai/scripted: no answer within 3s"
    [report] = scenario.reports()
    assert report["phase"] == "VERIFYING" and report["failure_reason"] == bug["failure_reason"]


def test_no_repository_configured(scenario: Scenario, module_llm: LLMServer) -> None:
    module_llm.state.script()
    bug = scenario.repair()
    assert bug["status"] == "FIX_FAILED"
    assert bug["failure_reason"] == (
        f"no repository configured for project {scenario.project_id}: set repo_url or local_path"
    )
    assert [(h["from"], h["to"]) for h in bug["status_history"]] == [("NEW", "FIX_FAILED")]
    assert module_llm.state.requests == []


def test_cannot_reproduce(scenario: Scenario, repos: Repos, module_llm: LLMServer) -> None:
    module_llm.state.script(replies.NOT_REPRODUCING)
    bug = scenario.repair(local_path=str(repos.checkout))
    assert bug["status"] == "CANNOT_REPRODUCE"
    assert bug["failure_reason"] == (
        f"cannot reproduce: the reproduction test {replies.REPRO_PATH} passes; "
        "no ZeroDivisionError was raised"
    )


def test_edit_outside_the_repository_is_refused(
    scenario: Scenario, repos: Repos, module_llm: LLMServer, flow: tuple[RunningStack, str, Path]
) -> None:
    module_llm.state.script(replies.REPRODUCTION, replies.OUTSIDE)
    bug = scenario.repair(local_path=str(repos.checkout))
    assert bug["status"] == "FIX_FAILED"
    assert bug["failure_reason"] == "edit outside the repository refused: ../../outside/pwned.py"
    workdir = flow[2]
    assert not list(workdir.rglob("pwned.py")) and not list(repos.checkout.parent.rglob("pwned.py"))


def test_clone_from_repo_url_when_there_is_no_local_path(
    scenario: Scenario, repos: Repos, module_llm: LLMServer
) -> None:
    module_llm.state.script(replies.REPRODUCTION, replies.RIGHT_FIX_DRIFTED)
    bug = scenario.repair(repo_url=str(repos.origin), test_command="python -m pytest -q tests")
    assert bug["status"] == "FIXED", bug
    [fix] = scenario.fixing_reports()
    assert "python -m pytest -q tests" in fix["test_command"]
    assert git(repos.origin, "rev-parse", f"logcenter/fix-{scenario.bug_id}") == fix["commit"]
    assert_no_secret(scenario)
