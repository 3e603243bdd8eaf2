"""The toolchain seam on real repositories with real tools: detection of every family, test
naming, and real runs of pytest, unittest, Django, vitest and go test in environments built from
PyPI, npm and the Go toolchain (never Log Center's own interpreter). Built environments are
shared per module; npm's download cache and Go's build cache live under ~/.cache so reruns are
fast."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.sandbox import RunResult, clean_env, run_command
from agent.toolchains import (
    PrepareContext,
    Prepared,
    PrepareFailed,
    Toolchain,
    ToolMissing,
    detect,
    missing_tool,
    require_tools,
    with_test_command,
)
from tests.repos import git

FIXTURES = Path(__file__).parent / "fixtures" / "toolchains"
NPM_CACHE = Path.home() / ".cache" / "logcenter-test-npm"
GO_BUILD_CACHE = Path.home() / ".cache" / "logcenter-test-go-build"
REPO_ROOT = Path(__file__).resolve().parents[2]
UV_VERSION = "0.13.9"


def make_repo(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """A git repository at `root` with `files` committed on main."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Dev")
    git(root, "config", "user.email", "dev@example.invalid")
    write(root, files)
    commit(root, "initial")
    return root


def write(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def base_env() -> dict[str, str]:
    """What the repair job passes: our environment without secrets, plus the test caches.

    Under a CI service, as on the machines that run this suite: runners colour their output there.
    """
    env = clean_env([], {**os.environ, "CI": "true", "FORCE_COLOR": "1"})
    env.update(npm_config_cache=str(NPM_CACHE), GOCACHE=str(GO_BUILD_CACHE))
    return env


def context(cache_dir: Path, project: str) -> PrepareContext:
    return PrepareContext(cache_dir=cache_dir, project=project, env=base_env())


def run(tc: Toolchain, prepared: Prepared, command: str) -> RunResult:
    return run_command(command, tc.worktree, 300, prepared.apply(base_env()))


@dataclass
class Built:
    """A repository, its toolchain and the environment prepared for it."""

    tc: Toolchain
    prepared: Prepared
    cache_dir: Path

    def run_test(self, path: str, code: str) -> RunResult:
        write(self.tc.worktree, {path: code})
        return run(self.tc, self.prepared, self.tc.test_file_command(path))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("toolchain-cache")


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("toolchain-repos")


def detected(root: Path, source: str | None = None, local: Path | None = None) -> Toolchain:
    tc = detect(root, local, source)
    assert tc is not None, f"nothing detected in {root}"
    return tc


# -- detection ------------------------------------------------------------------------------

PY_PKG = {"calc/__init__.py": "", "calc/ops.py": "def average(v):\n    return sum(v) / len(v)\n"}
UNITTEST_SUITE = """\
    import unittest

    from calc.ops import average


    class AverageTest(unittest.TestCase):
        def test_average(self):
            self.assertEqual(average([1, 2, 3]), 2)
    """
DJANGO_FILES = {
    "manage.py": """\
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
        """,
    "shopsite/__init__.py": "",
    "shopsite/settings.py": """\
        SECRET_KEY = "test-only"
        INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
        USE_TZ = True
        """,
    "shop/__init__.py": "",
    "shop/apps.py": """\
        from django.apps import AppConfig


        class ShopConfig(AppConfig):
            name = "shop"
        """,
    "shop/models.py": """\
        from django.db import models


        class Item(models.Model):
            name = models.CharField(max_length=50)
            price = models.IntegerField()
            quantity = models.IntegerField()
        """,
    "shop/pricing.py": """\
        def unit_price(item):
            return item.price / item.quantity
        """,
    "shop/tests/__init__.py": "",
    "shop/tests/test_models.py": """\
        from django.test import TestCase

        from shop.models import Item


        class ItemTest(TestCase):
            def test_create(self):
                Item.objects.create(name="pen", price=3, quantity=1)
                self.assertEqual(Item.objects.count(), 1)
        """,
    "requirements.txt": "Django==5.2.8\n",
}


def _package(runner: str, **extra: object) -> str:
    data: dict[str, object] = {"name": "web", "private": True, **extra}
    if runner in ("vitest", "jest", "mocha"):
        data["devDependencies"] = {runner: "*"}
    return json.dumps(data)


DETECTION: dict[str, tuple[dict[str, str], str, str]] = {
    "pytest-config": (
        {**PY_PKG, "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"},
        "pytest",
        "python",
    ),
    "pytest-requirement": ({**PY_PKG, "requirements-dev.txt": "pytest>=8\n"}, "pytest", "python"),
    "pytest-conftest": ({**PY_PKG, "tests/conftest.py": ""}, "pytest", "python"),
    "unittest": (
        {**PY_PKG, "setup.py": "", "tests/test_ops.py": UNITTEST_SUITE},
        "unittest",
        "python",
    ),
    "django": (DJANGO_FILES, "django", "python"),
    "django-pytest": (
        {**DJANGO_FILES, "requirements.txt": "Django\npytest-django\n", "pytest.ini": ""},
        "pytest",
        "python",
    ),
    "vitest-ts": (
        {"package.json": _package("vitest"), "tsconfig.json": "{}", "src/a.ts": ""},
        "vitest",
        "typescript",
    ),
    "jest": ({"package.json": _package("jest"), "src/a.js": ""}, "jest", "javascript"),
    "mocha": (
        {"package.json": _package("", scripts={"test": "mocha --recursive"})},
        "mocha",
        "javascript",
    ),
    "node-test": (
        {"package.json": _package("", scripts={"test": "node --test"}), "test/a.test.js": ""},
        "node-test",
        "javascript",
    ),
    "go": ({"go.mod": "module example.com/calc\n\ngo 1.22\n", "calc.go": ""}, "go", "go"),
    "dart": (
        {"pubspec.yaml": "name: calc\ndev_dependencies:\n  test: ^1.25.0\n"},
        "dart",
        "dart",
    ),
    "flutter": (
        {
            "pubspec.yaml": "name: app\ndependencies:\n  flutter:\n    sdk: flutter\n",
            "lib/main.dart": "",
        },
        "flutter",
        "dart",
    ),
}


@pytest.mark.parametrize("case", sorted(DETECTION))
def test_detects_each_toolchain(repos: Path, case: str) -> None:
    files, name, language = DETECTION[case]
    tc = detected(make_repo(repos / f"detect-{case}", files))
    assert (tc.name, tc.language) == (name, language)


def test_nothing_recognised_is_none(repos: Path) -> None:
    root = make_repo(repos / "plain", {"README.md": "# notes\n", "docs/index.html": "<p></p>"})
    assert detect(root) is None


def test_failing_file_decides_between_families(repos: Path) -> None:
    root = make_repo(
        repos / "mixed",
        {**DJANGO_FILES, "package.json": _package("vitest"), "web/app.ts": ""},
    )
    assert detected(root, "shop/pricing.py").name == "django"
    assert detected(root, "web/app.ts").name == "vitest"


def test_django_in_a_subfolder(repos: Path) -> None:
    files = {f"backend/{name}": text for name, text in DJANGO_FILES.items()}
    tc = detected(make_repo(repos / "django-sub", files))
    assert tc.name == "django"
    path = tc.test_path(4, "backend/shop/pricing.py")
    assert path == "backend/shop/tests/test_logcenter_bug_4.py"
    command = tc.test_file_command(path)
    assert command.startswith("cd backend && ")
    assert command.endswith("manage.py test --noinput shop.tests.test_logcenter_bug_4")


# -- naming and conventions -----------------------------------------------------------------


def test_python_test_paths_follow_the_test_folders(repos: Path) -> None:
    root = make_repo(
        repos / "naming-py",
        {
            **PY_PKG,
            "pytest.ini": "",
            "apps/users/__init__.py": "",
            "apps/users/views.py": "",
            "apps/users/tests/test_views.py": "",
            "tests/test_ops.py": "",
            "tests/test_more.py": "",
        },
    )
    tc = detected(root)
    assert tc.test_path(12, "calc/ops.py") == "tests/test_logcenter_bug_12.py"
    assert tc.test_path(12, "apps/users/views.py") == "apps/users/tests/test_logcenter_bug_12.py"
    assert "from calc.ops import" in tc.conventions(12, "calc/ops.py")


def test_django_test_goes_next_to_the_app(repos: Path) -> None:
    files = {k: v for k, v in DJANGO_FILES.items() if not k.startswith("shop/tests/")}
    tc = detected(make_repo(repos / "naming-django", files))
    assert tc.test_path(12, "shop/pricing.py") == "shop/test_logcenter_bug_12.py"
    assert tc.test_file_command("shop/test_logcenter_bug_12.py").endswith(
        "manage.py test --noinput shop.test_logcenter_bug_12"
    )


def test_node_test_paths_match_the_project_naming(repos: Path) -> None:
    colocated = detected(
        make_repo(
            repos / "naming-vitest",
            {
                "package.json": _package("vitest"),
                "src/api/request.ts": "",
                "src/util/format.ts": "",
                "src/util/format.spec.ts": "",
            },
        )
    )
    assert colocated.test_path(12, "src/api/request.ts") == "src/api/logcenter-bug-12.spec.ts"
    assert "'../api/request'" not in colocated.conventions(12, "src/api/request.ts")
    assert "'./request'" in colocated.conventions(12, "src/api/request.ts")
    dedicated = detected(
        make_repo(
            repos / "naming-mocha",
            {
                "package.json": _package("mocha"),
                "lib/calc.js": "",
                "test/calc.test.js": "",
                "test/more.test.js": "",
            },
        )
    )
    assert dedicated.test_path(12, "lib/calc.js") == "test/logcenter-bug-12.test.js"
    assert "'../lib/calc'" in dedicated.conventions(12, "lib/calc.js")
    jest = detected(
        make_repo(
            repos / "naming-jest",
            {
                "package.json": _package("jest"),
                "src/cart.js": "",
                "src/__tests__/cart.test.js": "",
            },
        )
    )
    assert jest.test_path(12, "src/cart.js") == "src/__tests__/logcenter-bug-12.test.js"
    assert "--runTestsByPath src/x.test.js" in jest.test_file_command("src/x.test.js")


def test_go_and_dart_test_paths(repos: Path) -> None:
    go = detected(make_repo(repos / "naming-go", DETECTION["go"][0]))
    assert go.test_path(12, "internal/calc/ops.go") == "internal/calc/logcenter_bug_12_test.go"
    assert go.test_path(12, None) == "logcenter_bug_12_test.go"
    dart = detected(make_repo(repos / "naming-dart", DETECTION["dart"][0]))
    assert dart.test_path(12, "lib/src/calc.dart") == "test/logcenter_bug_12_test.dart"
    assert "package:calc/src/calc.dart" in dart.conventions(12, "lib/src/calc.dart")
    assert dart.test_file_command("test/x_test.dart") == "dart test -r expanded test/x_test.dart"


def test_configured_test_command_overrides_the_suite(repos: Path) -> None:
    tc = detected(make_repo(repos / "override", DETECTION["go"][0]))
    configured = with_test_command(tc, "make test")
    assert configured.suite_command() == "make test"
    assert tc.suite_command() == "go test ./..."
    assert with_test_command(tc, None).suite_command() == "go test ./..."


# -- output readers on outputs of runners this machine lacks ---------------------------------

UNITTEST_OUT = """\
E
======================================================================
ERROR: test_empty (tests.test_logcenter_bug_3.Bug.test_empty)
----------------------------------------------------------------------
ZeroDivisionError: division by zero
"""
JEST_OUT = """\
FAIL src/cart.test.js
  cart
    ✕ totals an empty cart (2 ms)

  ● cart › totals an empty cart

    TypeError: Cannot read properties of undefined (reading 'length')
"""
DART_OUT = """\
00:00 +0: test/logcenter_bug_3_test.dart: parses an empty list
00:00 +0 -1: test/logcenter_bug_3_test.dart: parses an empty list [E]
  Bad state: No element
  dart:core                    List.first
00:00 +0 -1: Some tests failed.
"""


def test_output_readers(repos: Path) -> None:
    python = detected(make_repo(repos / "readers-py", DETECTION["unittest"][0]))
    assert (
        python.failing_test(UNITTEST_OUT)
        == "test_empty (tests.test_logcenter_bug_3.Bug.test_empty)"
    )
    assert python.reproduces(UNITTEST_OUT, "ZeroDivisionError")
    assert not python.reproduces(UNITTEST_OUT, "ValueError")
    assert python.reproduces(UNITTEST_OUT, "")
    jest = detected(make_repo(repos / "readers-jest", DETECTION["jest"][0]))
    assert jest.failing_test(JEST_OUT) == "cart › totals an empty cart"
    assert jest.reproduces(JEST_OUT, "TypeError")
    dart = detected(make_repo(repos / "readers-dart", DETECTION["dart"][0]))
    assert dart.failing_test(DART_OUT) == "test/logcenter_bug_3_test.dart: parses an empty list"
    assert dart.reproduces(DART_OUT, "StateError")
    assert not dart.reproduces(DART_OUT, "ArgumentError")


# -- missing tools --------------------------------------------------------------------------


def test_flutter_missing_on_this_worker(repos: Path) -> None:
    if shutil.which("flutter"):
        pytest.skip("this machine has flutter")
    tc = detected(make_repo(repos / "flutter-app", DETECTION["flutter"][0]), "lib/main.dart")
    assert tc.required_tools() == ["flutter"]
    assert missing_tool(tc) == "flutter"
    with pytest.raises(ToolMissing, match="^flutter is not installed on this worker"):
        require_tools(tc)
    assert tc.test_file_command("test/a_test.dart") == "flutter test -r expanded test/a_test.dart"


def test_present_tools_are_not_missing(repos: Path) -> None:
    tc = detected(make_repo(repos / "tools-node", DETECTION["jest"][0]))
    assert tc.required_tools() == ["node", "npm"]
    assert missing_tool(tc) is None
    assert missing_tool(tc, {"PATH": str(repos)}) == "node"


@pytest.mark.parametrize(
    ("lockfile", "manager"),
    [("package-lock.json", "npm"), ("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("", "npm")],
)
def test_the_lockfile_names_the_package_manager(repos: Path, lockfile: str, manager: str) -> None:
    files = {"package.json": _package("jest"), "src/a.js": ""}
    if lockfile:
        files[lockfile] = "{}\n" if lockfile.endswith(".json") else "# lock\n"
    tc = detected(make_repo(repos / f"manager-{lockfile or 'none'}", files))
    assert tc.required_tools() == ["node", manager]
    node_only = repos / f"bin-{lockfile or manager}"
    node_only.mkdir(exist_ok=True)
    (node_only / "node").symlink_to(shutil.which("node") or "/usr/bin/node")
    assert missing_tool(tc, {"PATH": str(node_only)}) == manager
    with pytest.raises(ToolMissing, match=f"^{manager} is not installed on this worker"):
        require_tools(tc, {"PATH": str(node_only)})


# -- Python: a project environment built from PyPI, once ------------------------------------

WORDS = {
    "words/__init__.py": "",
    "words/names.py": """\
        import inflection


        def table_name(model):
            if not model:
                raise ValueError("empty model name")
            return inflection.tableize(model)
        """,
    "tests/conftest.py": "",
    "tests/test_names.py": """\
        from words.names import table_name


        def test_table_name():
            assert table_name("BlogPost") == "blog_posts"
        """,
    "requirements.txt": "inflection==0.5.1\n",
}
WORDS_REPRO = """\
    from words.names import table_name


    def test_empty_model():
        table_name("")
    """


@pytest.fixture(scope="module")
def words(repos: Path, cache_dir: Path) -> Built:
    tc = detected(make_repo(repos / "words", WORDS), "words/names.py")
    prepared = tc.prepare(context(cache_dir, "words"))
    return Built(tc, prepared, cache_dir)


@pytest.mark.slow
def test_pytest_project_runs_in_its_own_environment(words: Built) -> None:
    assert importlib.util.find_spec("inflection") is None, "Log Center's venv must lack it"
    assert words.tc.name == "pytest"
    assert words.prepared.built
    root = words.prepared.root
    assert root is not None and root.is_relative_to(words.cache_dir / "envs" / "words")
    command = words.tc.test_file_command("tests/test_logcenter_bug_12.py")
    assert command.startswith(f"{root}/bin/python -m pytest -q -p no:cacheprovider ")
    suite = run(words.tc, words.prepared, words.tc.suite_command())
    assert suite.passed, suite.output
    path = words.tc.test_path(12, "words/names.py")
    assert path == "tests/test_logcenter_bug_12.py"
    result = words.run_test(path, WORDS_REPRO)
    assert not result.passed
    assert words.tc.reproduces(result.output, "ValueError")
    assert not words.tc.reproduces(result.output, "KeyError")
    assert words.tc.failing_test(result.output) == f"{path}::test_empty_model"


@pytest.mark.slow
def test_second_prepare_reuses_the_environment(words: Built) -> None:
    root = words.prepared.root
    assert root is not None
    marker = root / "logcenter-env.json"
    stamp = marker.stat().st_mtime_ns
    again = words.tc.prepare(context(words.cache_dir, "words"))
    assert (again.built, again.root) == (False, root)
    assert marker.stat().st_mtime_ns == stamp
    assert json.loads(marker.read_text())["installed"] == ["-r", "requirements.txt", "pytest"]
    # An uncommitted edit never decides what is installed: the committed manifest does.
    (words.tc.worktree / "requirements.txt").write_text("inflection==0.5.1\nnot-committed\n")
    edited = words.tc.prepare(context(words.cache_dir, "words"))
    assert (edited.built, edited.root) == (False, root)


@pytest.mark.slow
def test_failed_preparation_keeps_the_tool_output(repos: Path, cache_dir: Path) -> None:
    root = make_repo(
        repos / "broken", {**PY_PKG, "pytest.ini": "", "requirements.txt": "inflection[\n"}
    )
    tc = detected(root)
    with pytest.raises(PrepareFailed) as failure:
        tc.prepare(context(cache_dir, "broken"))
    reason = failure.value.reason
    assert reason.startswith("installing the project's dependencies failed: `")
    assert "Invalid requirement" in reason
    # Neither the environment nor its temp folder is left behind.
    assert [p for p in (cache_dir / "envs" / "broken").iterdir() if p.is_dir()] == []


@pytest.fixture(scope="module")
def uv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding uv's binary, taken from its wheel on PyPI (pip's cache keeps it)."""
    folder = tmp_path_factory.mktemp("uv")
    download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
    download += ["--only-binary=:all:", "-d", str(folder), f"uv=={UV_VERSION}"]
    subprocess.run(download, check=True, capture_output=True)
    with zipfile.ZipFile(next(folder.glob("uv-*.whl"))) as wheel:
        member = next(n for n in wheel.namelist() if n.endswith(".data/scripts/uv"))
        binary = folder / "bin" / "uv"
        binary.parent.mkdir()
        binary.write_bytes(wheel.read(member))
    binary.chmod(0o755)
    return binary.parent


@pytest.mark.slow
def test_uv_builds_the_environment_when_on_path(repos: Path, tmp_path: Path, uv_dir: Path) -> None:
    tc = detected(make_repo(repos / "words-uv", WORDS), "words/names.py")
    env = base_env()
    env["PATH"] = f"{uv_dir}{os.pathsep}{env['PATH']}"
    prepared = tc.prepare(PrepareContext(tmp_path, "words", env=env))
    assert prepared.built and prepared.root is not None
    about = json.loads((prepared.root / "logcenter-env.json").read_text())
    assert about["installer"] == "uv"
    # Built in a temp folder and renamed: the scripts name the final place.
    shebang = (prepared.root / "bin" / "pytest").read_text().splitlines()[0]
    assert shebang == f"#!{prepared.root}/bin/python"
    result = run(tc, prepared, tc.test_file_command("tests/test_names.py"))
    assert result.passed, result.output


# -- Python: the user's own virtualenv, unittest, two workers at once -----------------------

USER_OPS = "def average(v):\n    return 'from the checkout'\n"
UNITTEST_REPRO = """\
    import unittest

    import userdep

    from calc.ops import average


    class Bug(unittest.TestCase):
        def test_empty(self):
            self.assertEqual(userdep.VALUE, 42)
            average([])
    """


def test_user_virtualenv_is_used_with_the_worktree_first(repos: Path, cache_dir: Path) -> None:
    local = make_repo(repos / "user-checkout", {**PY_PKG, "tests/test_ops.py": UNITTEST_SUITE})
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(local / ".venv")], check=True
    )
    site = next((local / ".venv" / "lib").glob("python3*/site-packages"))
    (site / "userdep.py").write_text("VALUE = 42\n")
    (site / "_calc_editable.pth").write_text(f"{local}\n")  # like `pip install -e` in the checkout
    (local / "calc" / "ops.py").write_text(USER_OPS)  # the user's unfinished work
    worktree = repos / "user-worktree"
    git(local, "worktree", "add", "-q", "-b", "logcenter/fix-3", str(worktree))
    tc = detected(worktree, "calc/ops.py", local=local)
    assert tc.name == "unittest"
    prepared = tc.prepare(context(cache_dir, "user"))
    assert (prepared.root, prepared.built) == (local / ".venv", False)
    assert not (cache_dir / "envs" / "user").exists()
    path = tc.test_path(3, "calc/ops.py")
    assert path == "tests/test_logcenter_bug_3.py"
    write(worktree, {path: UNITTEST_REPRO})
    result = run(tc, prepared, tc.test_file_command(path))
    assert tc.reproduces(result.output, "ZeroDivisionError"), result.output
    assert tc.failing_test(result.output) == (
        "test_empty (tests.test_logcenter_bug_3.Bug.test_empty)"
    )
    assert run(tc, prepared, tc.suite_command()).exit_code != 0


TWO_WORKERS = """\
import sys, time
from pathlib import Path
from agent.toolchains import PrepareContext, detect, run_subprocess

def slow(argv, cwd, env, timeout):
    time.sleep(1.5)  # keep the first build going while the other worker arrives
    return run_subprocess(argv, cwd, env, timeout)

tc = detect(Path(sys.argv[1]))
prepared = tc.prepare(PrepareContext(Path(sys.argv[2]), "pair", run=slow))
print(prepared.built, prepared.root)
"""


@pytest.mark.slow
def test_two_workers_build_one_environment(repos: Path, tmp_path: Path) -> None:
    root = make_repo(repos / "pair", {**PY_PKG, "tests/test_ops.py": UNITTEST_SUITE})
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_WORKERS, str(root), str(tmp_path)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    answers = sorted(w.communicate(timeout=120)[0].split() for w in workers)
    assert [a[0] for a in answers] == ["False", "True"]
    assert answers[0][1] == answers[1][1]
    envs = tmp_path / "envs" / "pair"
    assert [p.name for p in envs.iterdir() if p.is_dir()] == [Path(answers[0][1]).name]
    # A committed manifest change is a new environment; the old one stays for running jobs.
    write(root, {"requirements.txt": "# nothing yet\n"})
    commit(root, "requirements")
    tc = detected(root)
    rebuilt = tc.prepare(PrepareContext(tmp_path, "pair", env=base_env()))
    assert rebuilt.built and rebuilt.root != Path(answers[0][1])
    path = tc.test_path(3, "calc/ops.py")
    write(
        root, {path: UNITTEST_REPRO.replace("import userdep\n", "").replace("userdep.VALUE", "42")}
    )
    result = run(tc, rebuilt, tc.test_file_command(path))
    assert tc.reproduces(result.output, "ZeroDivisionError"), result.output


# -- Django ---------------------------------------------------------------------------------

DJANGO_REPRO = """\
    from django.test import TestCase

    from shop.models import Item
    from shop.pricing import unit_price


    class UnitPriceTest(TestCase):
        def test_zero_quantity(self):
            item = Item.objects.create(name="gift", price=0, quantity=0)
            unit_price(item)
    """


@pytest.fixture(scope="module")
def django_project(repos: Path, cache_dir: Path) -> Built:
    tc = detected(make_repo(repos / "shop", DJANGO_FILES), "shop/pricing.py")
    return Built(tc, tc.prepare(context(cache_dir, "shop")), cache_dir)


@pytest.mark.slow
def test_django_project_runs_one_test_file(django_project: Built) -> None:
    # Django is in our test extras (docs/clients), so the proof is the interpreter the command
    # names: the one of the environment built for the project from its requirements.txt.
    tc, root = django_project.tc, django_project.prepared.root
    assert tc.name == "django"
    assert root is not None and root.is_relative_to(django_project.cache_dir / "envs" / "shop")
    path = tc.test_path(4, "shop/pricing.py")
    assert path == "shop/tests/test_logcenter_bug_4.py"
    assert tc.test_file_command(path).startswith(f"{root}/bin/python manage.py test --noinput ")
    result = django_project.run_test(path, DJANGO_REPRO)
    assert not result.passed
    assert tc.reproduces(result.output, "ZeroDivisionError"), result.output
    assert tc.failing_test(result.output) == (
        "test_zero_quantity (shop.tests.test_logcenter_bug_4.UnitPriceTest.test_zero_quantity)"
    )
    assert "Ran 1 test" in result.output


# -- vitest ---------------------------------------------------------------------------------

REQUEST_TS = """\
    export interface Reply {
      body?: { items: string[] }
    }

    export function firstItem(reply: Reply): string {
      return reply.body!.items[0]
    }
    """
VITEST_REPRO = """\
    import { describe, it } from 'vitest'
    import { firstItem } from './request'

    describe('firstItem', () => {
      it('reads a reply without a body', () => {
        firstItem({})
      })
    })
    """


@pytest.fixture(scope="module")
def vitest_project(repos: Path, cache_dir: Path) -> Built:
    files: dict[str, str | bytes] = {
        "package.json": (FIXTURES / "vitest" / "package.json").read_bytes(),
        "package-lock.json": (FIXTURES / "vitest" / "package-lock.json").read_bytes(),
        ".gitignore": "node_modules\n",
        "src/api/request.ts": REQUEST_TS,
    }
    tc = detected(make_repo(repos / "web", files), "src/api/request.ts")
    return Built(tc, tc.prepare(context(cache_dir, "web")), cache_dir)


@pytest.mark.slow
def test_vitest_project_runs_one_test_file(vitest_project: Built) -> None:
    tc, prepared = vitest_project.tc, vitest_project.prepared
    assert (tc.name, tc.language, tc.required_tools()) == ("vitest", "typescript", ["node", "npm"])
    assert prepared.root is not None
    modules = prepared.root / "node_modules"
    assert (tc.worktree / "node_modules").resolve() == modules.resolve()
    assert prepared.ignored_paths == ("node_modules",)
    path = tc.test_path(5, "src/api/request.ts")
    assert path == "src/api/logcenter-bug-5.test.ts"
    assert tc.test_file_command(path) == f"{modules}/.bin/vitest run {path}"
    result = vitest_project.run_test(path, VITEST_REPRO)
    assert not result.passed
    assert tc.reproduces(result.output, "TypeError"), result.output
    assert not tc.reproduces(result.output, "RangeError")
    assert tc.failing_test(result.output) == f"{path} > firstItem > reads a reply without a body"
    status = git(tc.worktree, "status", "--porcelain")
    assert "node_modules" not in status


@pytest.mark.slow
def test_vitest_environment_is_reused_and_relinked(vitest_project: Built) -> None:
    tc = vitest_project.tc
    (tc.worktree / "node_modules").unlink()  # as `git clean` after a reset of the worktree
    again = tc.prepare(context(vitest_project.cache_dir, "web"))
    assert (again.built, again.root) == (False, vitest_project.prepared.root)
    assert (tc.worktree / "node_modules").is_symlink()


# -- Go -------------------------------------------------------------------------------------

GO_FILES = {
    "go.mod": "module example.com/calc\n\ngo 1.22\n",
    "calc/ops.go": """\
        package calc

        // Last returns the last of the values.
        func Last(values []int) int {
        \treturn values[len(values)]
        }
        """,
    "calc/ops_test.go": """\
        package calc

        import "testing"

        func TestNothing(t *testing.T) {}
        """,
}
GO_REPRO = """\
    package calc

    import "testing"

    func TestLogcenterBug7(t *testing.T) {
    \tLast([]int{1, 2})
    }
    """


@pytest.mark.slow
def test_go_module_runs_one_test_file_and_sees_the_panic(repos: Path, cache_dir: Path) -> None:
    tc = detected(make_repo(repos / "gocalc", GO_FILES), "calc/ops.go")
    prepared = tc.prepare(context(cache_dir, "gocalc"))
    assert prepared.env["GOTOOLCHAIN"] == "local"
    assert prepared.writable == (GO_BUILD_CACHE,)
    path = tc.test_path(7, "calc/ops.go")
    assert path == "calc/logcenter_bug_7_test.go"
    write(tc.worktree, {path: GO_REPRO})
    command = tc.test_file_command(path)
    assert command == "go test -count=1 -run '^(TestLogcenterBug7)$' ./calc"
    result = run(tc, prepared, command)
    assert not result.passed
    assert tc.reproduces(result.output, "runtime.boundsError"), result.output
    assert tc.reproduces(result.output, "runtime error: index out of range")
    assert not tc.reproduces(result.output, "runtime.TypeAssertionError")
    assert tc.failing_test(result.output) == "TestLogcenterBug7"
