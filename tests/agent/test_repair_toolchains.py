"""Repairs in each project's own toolchain, end to end, by a worker installed as users install it.

The worker pool runs from Log Center installed the way the Dockerfile installs it (`pip install
.`, no test extras, so no pytest), against a running API, with a scripted model behind litellm.
Each project is a real git repository with a bare origin, made from fixtures/repair/: a pytest
project whose dependency is only in the environment built for it, a unittest project whose
dependency is only in the developer's own .venv, a Django project (`manage.py test`, a model and
a view), a TypeScript project tested with vitest (packages from npm) and a Go module. Each ends
FIXED with its fix branch on origin. The repairs that cannot start (no toolchain and no
test_command, flutter missing, an SSH host that does not resolve) end FIX_FAILED at once with a
reason that says what to do.

The worker cache dir is the module's, so built environments are shared between scenarios (the
stale-branch repair reuses the pytest project's); npm's download cache and Go's build cache live
under ~/.cache so reruns and CI reuse downloads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.services import RedisServer
from bench.stack import RunningStack, stack_env
from tests.agent.llm_server import LLMServer
from tests.agent.scenario import ADMIN_TOKEN, Scenario, WorkerPool, worker_env
from tests.repos import git
from tests.venvs import BASE_PYTHON, installed_logcenter, python_of, site_packages

FIXTURES = Path(__file__).parent / "fixtures"
NPM_CACHE = Path.home() / ".cache" / "logcenter-test-npm"
GO_BUILD_CACHE = Path.home() / ".cache" / "logcenter-test-go-build"
#: A Redis database of this module's own: RQ's queue names are global within a database.
REDIS_DB = 4
#: Building an environment (Django from PyPI, vitest from npm) on a busy 2-core machine.
DEADLINE = 300


# -- the projects ----------------------------------------------------------------------------


@dataclass
class Project:
    """A project's bare origin (None when it has no remote) and the developer's checkout."""

    origin: Path | None
    checkout: Path


def make_project(
    tmp_path: Path,
    fixture: str,
    *,
    origin: bool = True,
    venv: Path | None = None,
    extra: Mapping[str, Path] | None = None,
) -> Project:
    """fixtures/repair/<fixture> (plus the `extra` files, by name) committed on main, cloned
    from a bare origin unless `origin` is False; `venv` becomes the checkout's own .venv."""
    seed = tmp_path / fixture
    shutil.copytree(FIXTURES / "repair" / fixture, seed)
    for name, source in (extra or {}).items():
        shutil.copy(source, seed / name)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", f"{fixture}: first version")
    project = Project(None, seed)
    if origin:
        bare = tmp_path / f"{fixture}.git"
        git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
        checkout = tmp_path / f"{fixture}-checkout"
        git(tmp_path, "clone", "-q", str(bare), str(checkout))
        project = Project(bare, checkout)
    if venv is not None:
        (project.checkout / ".venv").symlink_to(venv, target_is_directory=True)
    return project


def create(path: str, code: str, why: str) -> str:
    """A model reply creating `path`."""
    return f"{why}\n\n{path}\n<<<<<<< SEARCH\n=======\n{textwrap.dedent(code)}>>>>>>> REPLACE\n"


def change(path: str, old: str, new: str, why: str) -> str:
    """A model reply replacing `old` by `new` in `path`."""
    return f"{why}\n\n{path}\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n"


# -- the stack and the installed worker --------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Log Center installed from the current sources as the Dockerfile does it."""
    return installed_logcenter(tmp_path_factory.mktemp("install"))


@pytest.fixture(scope="module")
def module_llm() -> Iterator[LLMServer]:
    server = LLMServer().start()
    yield server
    server.stop()


def installed_env(env: dict[str, str], venv: Path) -> dict[str, str]:
    """The worker's environment as on a server: the install's bin first on PATH, none of this
    suite's virtualenv; npm's and Go's caches where the toolchain tests keep them."""
    ours = Path(sys.executable).parent
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and Path(p) != ours]
    kept = {k: v for k, v in env.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    kept["PATH"] = os.pathsep.join([str(venv / "bin"), *path])
    kept.update(npm_config_cache=str(NPM_CACHE), GOCACHE=str(GO_BUILD_CACHE))
    return kept


@dataclass
class Flow:
    stack: RunningStack
    redis_url: str
    workdir: Path
    pool: WorkerPool
    llm: LLMServer
    venv: Path


@pytest.fixture(scope="module")
def flow(
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
    installed: Path,
    module_llm: LLMServer,
) -> Iterator[Flow]:
    """The API and indexer, and one worker of the installed Log Center, for the module."""
    workdir = tmp_path_factory.mktemp("toolchain-flow")
    url = f"{redis_server.url.rsplit('/', 1)[0]}/{REDIS_DB}"
    # Each scenario queues its own repair once the project is configured: none by themselves.
    env = stack_env(url, "tc:", admin_token=ADMIN_TOKEN, auto_repair="false")
    stack = RunningStack(workdir, env).start()
    worker = installed_env(
        worker_env(stack, url, module_llm, workdir, test_timeout="120"), installed
    )
    pool = WorkerPool(workdir, worker, python=str(python_of(installed)), cwd=workdir)
    try:
        yield Flow(stack, url, workdir, pool, module_llm, installed)
    finally:
        pool.stop()
        stack.stop()
        pool.redis.__class__.from_url(url).flushdb()


@pytest.fixture
def case(flow: Flow) -> Iterator[Scenario]:
    scenario = Scenario(flow.stack, flow.redis_url)
    yield scenario
    scenario.close()


@pytest.fixture(scope="module")
def kitchen_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inventory developer's own virtualenv: it has `units`, Log Center's has not."""
    venv = tmp_path_factory.mktemp("kitchen") / "venv"
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    units = site_packages(venv) / "units"
    units.mkdir()
    (units / "__init__.py").write_text(
        'FACTORS = {"g": 1, "kg": 1000}\n\n\n'
        "def to_grams(amount, unit):\n    return amount * FACTORS[unit]\n"
    )
    return venv


def repair(flow: Flow, case: Scenario, project: Mapping[str, Any], *replies: str) -> dict[str, Any]:
    """Script the model, configure the project, queue the repair and await its end."""
    flow.llm.state.script(*replies)
    case.configure(**project)
    case.enqueue()
    return case.wait_final(DEADLINE)


def assert_fixed_on_origin(case: Scenario, project: Project, changed: list[str]) -> str:
    """The bug is FIXED and its fix (the changed files, one commit) is on origin; the commit."""
    bug = case.bug()
    assert bug["status"] == "FIXED", (bug, case.reports())
    fix = case.reports()[-1]
    branch = f"logcenter/fix-{case.bug_id}"
    assert fix["passed"] and fix["branch"] == branch
    assert project.origin is not None
    assert git(project.origin, "rev-parse", branch) == fix["commit"]
    files = git(project.origin, "show", "--name-only", "--format=", branch).splitlines()
    assert sorted(files) == sorted(changed)
    commit: str = fix["commit"]
    return commit


def toolchain_of(case: Scenario) -> dict[str, Any]:
    response = case.http.get(f"/api/v1/projects/{case.project_id}")
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()["toolchain"]
    return info


# -- the install ------------------------------------------------------------------------------


def test_the_worker_runs_from_an_install_without_test_extras(flow: Flow) -> None:
    python = str(python_of(flow.venv))
    for module in ("pytest", "django", "inflection"):
        probe = subprocess.run([python, "-c", f"import {module}"], cwd=flow.workdir, check=False)
        assert probe.returncode != 0, f"{module} is importable in the installed Log Center"
    where = subprocess.run(
        [python, "-c", "import agent.toolchains; print(agent.toolchains.__file__)"],
        cwd=flow.workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site_packages(flow.venv))
    cmdline = Path(f"/proc/{flow.pool.proc.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[0].decode() == python


# -- Python -------------------------------------------------------------------------------------

WORDS_TRACE = [
    "Traceback (most recent call last):",
    '  File "/srv/words/app.py", line 20, in label',
    '  File "/srv/words/words/names.py", line 6, in initials',
    '    return "".join(part[0].upper() for part in inflection.underscore(name).split("_"))',
    "IndexError: string index out of range",
]


@pytest.mark.slow
def test_pytest_project_with_a_dependency_of_its_own(
    flow: Flow, case: Scenario, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "words")
    case.project_id = "words"
    case.report(
        type="IndexError",
        message="string index out of range",
        file_path="/srv/words/words/names.py",
        line_number=6,
        stack_trace=WORDS_TRACE,
    )
    test = f"tests/test_logcenter_bug_{case.bug_id}.py"
    bug = repair(
        flow,
        case,
        {"local_path": str(project.checkout)},
        create(
            test,
            """\
            from words.names import initials


            def test_initials_of_an_empty_name():
                assert initials("") == ""
            """,
            "An empty name splits into one empty part, whose first letter does not exist.",
        ),
        change(
            "words/names.py",
            WORDS_TRACE[3],
            '    parts = inflection.underscore(name).split("_")\n'
            '    return "".join(part[0].upper() for part in parts if part)',
            "Skip empty parts.",
        ),
    )
    assert bug["status"] == "FIXED", bug
    assert_fixed_on_origin(case, project, ["words/names.py", test])
    verify = case.reports()[0]
    assert "IndexError" in verify["test_output"]
    # Run by the interpreter of the environment built from requirements.txt, not Log Center's.
    env_python = flow.workdir / "cache" / "envs" / "words"
    assert verify["test_command"].startswith(str(env_python.resolve()))
    assert "-m pytest -q -p no:cacheprovider" in verify["test_command"]
    assert "The tests run with pytest." in flow.llm.state.prompts()[0]
    info = toolchain_of(case)
    assert (info["name"], info["language"], info["missing"]) == ("pytest", "python", [])


def test_unittest_project_in_the_developers_own_virtualenv(
    flow: Flow, case: Scenario, tmp_path: Path, kitchen_venv: Path
) -> None:
    project = make_project(tmp_path, "inventory", venv=kitchen_venv)
    case.project_id = "inventory"
    test = _report_inventory_bug(case)
    bug = repair(flow, case, {"local_path": str(project.checkout)}, *_inventory_replies(test))
    assert bug["status"] == "FIXED", bug
    assert_fixed_on_origin(case, project, ["inventory/stock.py", test])
    verify, fix = case.reports()
    dotted = test.removesuffix(".py").replace("/", ".")
    assert verify["test_command"] == f"{project.checkout}/.venv/bin/python -m unittest {dotted}"
    assert "ZeroDivisionError" in verify["test_output"]
    assert fix["test_command"].endswith("/.venv/bin/python -m unittest discover")
    assert "pytest is not available" in flow.llm.state.prompts()[0]


def _report_inventory_bug(case: Scenario) -> str:
    case.report(
        type="ZeroDivisionError",
        message="integer division or modulo by zero",
        file_path="/home/cook/inventory/inventory/stock.py",
        line_number=6,
        stack_trace=[
            "Traceback (most recent call last):",
            '  File "/home/cook/inventory/inventory/stock.py", line 6, in portion_grams',
            "ZeroDivisionError: integer division or modulo by zero",
        ],
    )
    return f"tests/test_logcenter_bug_{case.bug_id}.py"


def _inventory_replies(test: str) -> tuple[str, str]:
    return (
        create(
            test,
            """\
            import unittest

            from inventory.stock import portion_grams


            class NoPortions(unittest.TestCase):
                def test_no_portions_share_nothing(self):
                    self.assertEqual(portion_grams(1, "kg", 0), 0)
            """,
            "Zero portions divide by zero.",
        ),
        change(
            "inventory/stock.py",
            "    return to_grams(amount, unit) // portions",
            "    if portions <= 0:\n"
            "        return 0\n"
            "    return to_grams(amount, unit) // portions",
            "No portions, nothing to share.",
        ),
    )


@pytest.mark.slow
def test_django_project(flow: Flow, case: Scenario, tmp_path: Path) -> None:
    project = make_project(tmp_path, "shop")
    case.project_id = "shop"
    case.report(
        type="ZeroDivisionError",
        message="division by zero",
        file_path="/app/shop/views.py",
        line_number=9,
        stack_trace=[
            "Traceback (most recent call last):",
            '  File "/usr/local/lib/python3.12/site-packages/django/core/handlers/base.py", '
            "line 197, in _get_response",
            '  File "/app/shop/views.py", line 9, in unit_price',
            '    return JsonResponse({"unit_price": item.price / item.quantity})',
            "ZeroDivisionError: division by zero",
        ],
        context={"url": "/items/7/unit-price"},
    )
    test = f"shop/tests/test_logcenter_bug_{case.bug_id}.py"
    bug = repair(
        flow,
        case,
        {"repo_url": str(project.origin)},
        create(
            test,
            """\
            from django.test import TestCase

            from shop.models import Item


            class GiftUnitPrice(TestCase):
                def test_an_item_without_quantity_has_no_unit_price(self):
                    item = Item.objects.create(name="gift", price=0, quantity=0)
                    response = self.client.get(f"/items/{item.pk}/unit-price")
                    self.assertEqual(response.json(), {"unit_price": None})
            """,
            "The view divides by the quantity, which may be zero.",
        ),
        change(
            "shop/views.py",
            '    return JsonResponse({"unit_price": item.price / item.quantity})',
            "    price = item.price / item.quantity if item.quantity else None\n"
            '    return JsonResponse({"unit_price": price})',
            "No quantity, no unit price.",
        ),
    )
    assert bug["status"] == "FIXED", bug
    assert_fixed_on_origin(case, project, ["shop/views.py", test])
    verify, fix = case.reports()
    label = test.removesuffix(".py").replace("/", ".")
    assert verify["test_command"].endswith(f"manage.py test --noinput {label}")
    assert "ZeroDivisionError" in verify["test_output"]
    assert "OK" in fix["test_output"] and "Ran 2 tests" in fix["test_output"]
    assert "This is a Django project" in flow.llm.state.prompts()[0]
    assert toolchain_of(case)["name"] == "django"


# -- TypeScript and Go ------------------------------------------------------------------------


@pytest.mark.slow
def test_typescript_project_with_vitest(flow: Flow, case: Scenario, tmp_path: Path) -> None:
    npm = FIXTURES / "toolchains" / "vitest"  # vitest 3.2.4, locked
    manifests = {name: npm / name for name in ("package.json", "package-lock.json")}
    project = make_project(tmp_path, "web", extra=manifests)
    case.project_id = "web"
    case.report(
        type="TypeError",
        message="Cannot read properties of undefined (reading 'name')",
        file_path="https://shop.example.com/src/cart.ts?t=1764000000",
        line_number=11,
        stack_trace=[
            "TypeError: Cannot read properties of undefined (reading 'name')",
            "    at firstItemName (https://shop.example.com/src/cart.ts?t=1764000000:11:25)",
        ],
    )
    test = f"src/logcenter-bug-{case.bug_id}.test.ts"
    bug = repair(
        flow,
        case,
        {"local_path": str(project.checkout)},
        create(
            test,
            """\
            import { describe, expect, it } from 'vitest'
            import { firstItemName } from './cart'

            describe('an empty cart', () => {
              it('has no first item name', () => {
                expect(firstItemName({ items: [] })).toBe('')
              })
            })
            """,
            "An empty cart has no first item.",
        ),
        change(
            "src/cart.ts",
            "  return cart.items[0].name",
            "  return cart.items[0]?.name ?? ''",
            "Read the name only when there is an item.",
        ),
    )
    assert bug["status"] == "FIXED", bug
    # The node_modules link made in the worktree stays out of the commit.
    assert_fixed_on_origin(case, project, ["src/cart.ts", test])
    verify, fix = case.reports()
    assert f"vitest run {test}" in verify["test_command"]
    assert "TypeError" in verify["test_output"]
    assert "node_modules" not in verify["changed_files"] + fix["changed_files"]
    assert "import { describe, it, expect } from 'vitest'" in flow.llm.state.prompts()[0]
    info = toolchain_of(case)
    assert (info["name"], info["language"]) == ("vitest", "typescript")


def test_go_module(flow: Flow, case: Scenario, tmp_path: Path) -> None:
    project = make_project(tmp_path, "gocalc")
    case.project_id = "gocalc"
    case.report(
        type="runtime.boundsError",
        message="runtime error: index out of range [-1]",
        file_path="/build/gocalc/calc/ops.go",
        line_number=5,
        stack_trace=[
            "panic: runtime error: index out of range [-1]",
            "",
            "goroutine 1 [running]:",
            "example.com/gocalc/calc.Last(...)",
            "\t/build/gocalc/calc/ops.go:5",
        ],
    )
    test = f"calc/logcenter_bug_{case.bug_id}_test.go"
    bug = repair(
        flow,
        case,
        {"local_path": str(project.checkout)},
        create(
            test,
            f"""\
            package calc

            import "testing"

            func TestLogcenterBug{case.bug_id}(t *testing.T) {{
            \tif got := Last(nil); got != 0 {{
            \t\tt.Fatalf("Last(nil) = %d, want 0", got)
            \t}}
            }}
            """,
            "Last indexes -1 on an empty slice.",
        ),
        change(
            "calc/ops.go",
            "\treturn values[len(values)-1]",
            "\tif len(values) == 0 {\n\t\treturn 0\n\t}\n\treturn values[len(values)-1]",
            "An empty slice has no last value.",
        ),
    )
    assert bug["status"] == "FIXED", bug
    assert_fixed_on_origin(case, project, ["calc/ops.go", test])
    verify, fix = case.reports()
    assert verify["test_command"].startswith("go test -count=1 -run")
    assert "index out of range" in verify["test_output"]
    assert "go test ./..." in fix["test_command"]


# -- where the code comes from and where the fix goes ---------------------------------------------


def test_stale_local_default_branch_is_not_the_base(
    flow: Flow, case: Scenario, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "words")
    assert project.origin is not None
    # A teammate pushed the failing code; the developer's checkout has not pulled it.
    teammate = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", str(project.origin), str(teammate))
    (teammate / "words" / "share.py").write_text(
        "def share(total, parts):\n    return round(total / parts, 2)\n"
    )
    git(teammate, "add", "-A")
    git(teammate, "commit", "-q", "-m", "words: share")
    git(teammate, "push", "-q", "origin", "main")
    newest = git(teammate, "rev-parse", "HEAD")
    stale = git(project.checkout, "rev-parse", "main")
    case.project_id = "words"  # the pytest project's: its environment is reused
    case.report(
        type="ZeroDivisionError",
        message="division by zero",
        file_path="/srv/words/words/share.py",
        line_number=2,
        stack_trace=['  File "/srv/words/words/share.py", line 2, in share'],
    )
    test = f"tests/test_logcenter_bug_{case.bug_id}.py"
    bug = repair(
        flow,
        case,
        {"local_path": str(project.checkout)},
        create(
            test,
            """\
            from words.share import share


            def test_nothing_to_share_between_nobody():
                assert share(10, 0) == 0
            """,
            "Zero parts divide by zero.",
        ),
        change(
            "words/share.py",
            "    return round(total / parts, 2)",
            "    if not parts:\n        return 0\n    return round(total / parts, 2)",
            "Guard zero parts.",
        ),
    )
    assert bug["status"] == "FIXED", bug
    commit = assert_fixed_on_origin(case, project, ["words/share.py", test])
    assert git(project.origin, "rev-parse", f"{commit}^") == newest
    assert git(project.checkout, "rev-parse", "main") == stale  # the developer's branch stays
    envs = flow.workdir / "cache" / "envs" / "words"
    assert len([p for p in envs.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 1


def test_no_remote_keeps_the_fix_branch_local(
    flow: Flow, case: Scenario, tmp_path: Path, kitchen_venv: Path
) -> None:
    project = make_project(tmp_path, "inventory", origin=False, venv=kitchen_venv)
    case.project_id = "inventory_local"
    test = _report_inventory_bug(case)
    bug = repair(flow, case, {"local_path": str(project.checkout)}, *_inventory_replies(test))
    assert bug["status"] == "FIXED", bug
    fix = case.reports()[-1]
    branch = f"logcenter/fix-{case.bug_id}"
    assert fix["passed"] and fix["commit"]
    assert (
        f"The branch {branch} is local only, in the repository {project.checkout}"
        in (fix["analysis"])
    )
    assert git(project.checkout, "rev-parse", branch) == fix["commit"]


# -- repairs that cannot start --------------------------------------------------------------------


def _history(bug: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h["from"], h["to"]) for h in bug["status_history"]]


def test_no_toolchain_and_no_test_command(flow: Flow, case: Scenario, tmp_path: Path) -> None:
    project = make_project(tmp_path, "nothing")
    case.project_id = "status_page"
    case.report(
        type="TypeError",
        message="Cannot set properties of null (setting 'textContent')",
        file_path="site/index.html",
        line_number=3,
        stack_trace=["TypeError: Cannot set properties of null"],
    )
    bug = repair(flow, case, {"local_path": str(project.checkout)})
    assert bug["status"] == "FIX_FAILED"
    reason = bug["failure_reason"]
    assert reason.startswith("no toolchain detected: ")
    assert "test_command" in reason and "PUT /api/v1/projects/status_page" in reason
    assert _history(bug) == [("NEW", "FIX_FAILED")]
    assert flow.llm.state.requests == []
    [report] = case.reports()
    assert report["failure_reason"] == reason
    assert toolchain_of(case)["problem"] == reason


def test_pipeline_bug_runs_the_test_command_without_a_toolchain(
    flow: Flow, case: Scenario, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "nothing")
    case.project_id = "status_page_ci"
    case.send(
        {
            "project_id": case.project_id,
            "environment": "ci",
            "level": "ERROR",
            "source": "cicd",
            "error": {
                "type": "CheckFailed",
                "message": "check failed: site/index.html has no #state element",
                "stack_trace": ["$ sh check.sh", "check failed: site/index.html has no #state"],
            },
            "context": {"job_name": "pages", "step_name": "check"},
        }
    )
    bug = repair(
        flow,
        case,
        {"local_path": str(project.checkout), "test_command": "sh check.sh"},
        change(
            "site/index.html",
            '<p id="status">All systems normal</p>',
            '<p id="state">All systems normal</p>',
            "The script writes into #state, which the page calls #status.",
        ),
    )
    assert bug["status"] == "FIXED", bug
    assert_fixed_on_origin(case, project, ["site/index.html"])
    verify, fix = case.reports()
    assert verify["test_command"] == "sh check.sh" and "check failed" in verify["test_output"]
    assert fix["test_command"] == "sh check.sh" and "site ok" in fix["test_output"]
    info = toolchain_of(case)
    assert (info["name"], info["test_command"], info["problem"]) == (None, "sh check.sh", None)


def test_flutter_missing_on_the_worker(flow: Flow, case: Scenario, tmp_path: Path) -> None:
    if shutil.which("flutter"):
        pytest.skip("this machine has flutter")
    project = make_project(tmp_path, "flutter_app")
    case.project_id = "airhub_app"
    case.report(
        type="StateError",
        message="Bad state: No element",
        file_path="package:airhub_app/main.dart",
        line_number=1,
        stack_trace=["#0      firstName (package:airhub_app/main.dart:1:52)"],
    )
    bug = repair(flow, case, {"local_path": str(project.checkout)})
    assert bug["status"] == "FIX_FAILED"
    assert bug["failure_reason"].startswith("flutter is not installed on this worker")
    assert _history(bug) == [("NEW", "FIX_FAILED")]
    assert flow.llm.state.requests == []
    info = toolchain_of(case)
    assert (info["name"], info["language"], info["missing"]) == ("flutter", "dart", ["flutter"])


def test_ssh_clone_failure_says_why(flow: Flow, case: Scenario) -> None:
    case.project_id = "remote_only"
    case.report()
    bug = repair(flow, case, {"repo_url": "ssh://git@nonexistent.invalid/x.git"})
    assert bug["status"] == "FIX_FAILED"
    reason = bug["failure_reason"]
    assert reason.startswith("clone failed: ssh://nonexistent.invalid/x.git: ")
    assert "Could not resolve hostname nonexistent.invalid" in reason
    assert _history(bug) == [("NEW", "FIX_FAILED")]
