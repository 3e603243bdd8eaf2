"""Python projects: pytest, Django's `manage.py test`, or plain unittest.

pytest when the project names it (a dependency, `[tool.pytest...]`, `pytest.ini`, `conftest.py`,
`[tool:pytest]` in setup.cfg, `[pytest]` in tox.ini), Django when a `manage.py` (at the top or
one folder down) points at a settings module that uses Django and pytest-django is not in use,
unittest when there are tests but no pytest. Commands call the project environment's interpreter
by its absolute path, with the worktree first on PYTHONPATH so the tests import the worktree's
code even where the user's virtualenv has an editable install pointing at their checkout.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from agent.toolchains.base import PrepareContext, Prepared, first_match, mentions, prepend_path
from agent.toolchains.checkout import Checkout, nearest_folder
from agent.toolchains.pyenv import python_env

_MANIFESTS = ("pyproject.toml", "setup.py", "setup.cfg", "Pipfile", "manage.py")
_OTHER_FAMILIES = ("package.json", "go.mod", "pubspec.yaml")
_PYTEST_WORD = re.compile(r"(?<![\w-])pytest(?!\w)")
_PYTEST_DJANGO = re.compile(r"pytest[-_]django|DJANGO_SETTINGS_MODULE")
_SETTINGS = re.compile(r"DJANGO_SETTINGS_MODULE['\"]\s*,\s*['\"]([\w.]+)['\"]")
_PYTEST_FAILED = re.compile(r"^(?:FAILED|ERROR) ([^\s(]\S*)", re.MULTILINE)
_UNITTEST_FAILED = re.compile(r"^(?:FAIL|ERROR): (.+)$", re.MULTILINE)
_PYTEST_HEADER = re.compile(r"^_{3,} (\S.*?) _{3,}$", re.MULTILINE)


def _is_test_file(path: str) -> bool:
    name = posixpath.basename(path)
    return name.endswith(".py") and (name.startswith("test") or name.endswith("_test.py"))


def dotted(path: str) -> str:
    """`app/tests/test_x.py` -> `app.tests.test_x`."""
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


@dataclass
class PythonProject:
    """What the three Python runners share: environment, import path, test folder."""

    worktree: Path
    checkout: Checkout = field(repr=False)
    local_path: Path | None = None
    name: str = "python"
    language: str = "python"
    test_command: str | None = None
    #: The interpreter commands call; absolute once `prepare` has run.
    python: str = "python"
    #: The folder of manage.py for Django ("" is the top level).
    base: str = ""

    def needs(self) -> tuple[str, ...]:
        return ()

    def required_tools(self) -> list[str]:
        return []

    def prepare(self, ctx: PrepareContext) -> Prepared:
        env = python_env(ctx, self.worktree, self.local_path, self.needs())
        self.python = str(env.python)
        paths = [self.worktree, *(self.worktree / p for p in self._import_roots())]
        values = {
            "PATH": prepend_path(ctx.env, env.python.parent),
            "PYTHONPATH": os.pathsep.join(str(p) for p in paths),
            "VIRTUAL_ENV": str(env.root),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        return Prepared(values, root=env.root, read_only=(env.root,), built=env.built)

    def _import_roots(self) -> list[str]:
        roots = [self.base] if self.base else []
        if any(f.startswith("src/") and f.endswith(".py") for f in self.checkout.files):
            roots.append("src")
        return roots

    def module_of(self, source_file: str | None) -> str | None:
        """The dotted module of a source file, as the tests import it."""
        if not source_file or not source_file.endswith(".py"):
            return None
        for root in self._import_roots():
            if source_file.startswith(root + "/"):
                return dotted(source_file[len(root) + 1 :])
        return dotted(source_file)

    def _test_folder(self, source_file: str | None) -> str:
        folders = self.checkout.folders_of(_is_test_file)
        folder = nearest_folder(folders, source_file)
        return "tests" if folder is None else folder

    def _import_hint(self, source_file: str | None) -> str:
        module = self.module_of(source_file)
        example = f", e.g. `from {module} import ...`" if module else ""
        return (
            "The repository root is on the import path: import the code under test by its "
            f"module path{example}."
        )

    def reproduces(self, output: str, error_type: str) -> bool:
        return mentions(output, error_type)

    def failing_test(self, output: str) -> str | None:
        return first_match((_PYTEST_FAILED, _UNITTEST_FAILED, _PYTEST_HEADER), output)


@dataclass
class Pytest(PythonProject):
    name: str = "pytest"

    def needs(self) -> tuple[str, ...]:
        return ("pytest",)

    def suite_command(self) -> str:
        return self.test_command or f"{shlex.quote(self.python)} -m pytest -q -p no:cacheprovider"

    def test_file_command(self, path: str) -> str:
        run = f"{shlex.quote(self.python)} -m pytest -q -p no:cacheprovider"
        return f"{run} {shlex.quote(path)}"

    def test_path(self, bug_id: int, source_file: str | None) -> str:
        return posixpath.join(self._test_folder(source_file), f"test_logcenter_bug_{bug_id}.py")

    def conventions(self, bug_id: int, source_file: str | None) -> str:
        return (
            f"The tests run with pytest. Write the test as {self.test_path(bug_id, source_file)}"
            " with plain test_* functions and assert statements. "
            f"{self._import_hint(source_file)} Call the failing code directly so the reported "
            "exception propagates and fails the test."
        )


@dataclass
class Unittest(PythonProject):
    name: str = "unittest"

    def suite_command(self) -> str:
        if self.test_command:
            return self.test_command
        run = f"{shlex.quote(self.python)} -m unittest discover"
        top = {f.split("/", 1)[0] for f in self.checkout.files if _is_test_file(f) and "/" in f}
        for folder in ("tests", "test"):
            if folder in top and not self.checkout.has(f"{folder}/__init__.py"):
                return f"{run} -s {folder}"
        return run

    def test_file_command(self, path: str) -> str:
        return f"{shlex.quote(self.python)} -m unittest {shlex.quote(dotted(path))}"

    def test_path(self, bug_id: int, source_file: str | None) -> str:
        return posixpath.join(self._test_folder(source_file), f"test_logcenter_bug_{bug_id}.py")

    def conventions(self, bug_id: int, source_file: str | None) -> str:
        return (
            "The tests run with the standard library's unittest (`python -m unittest`); pytest "
            f"is not available. Write {self.test_path(bug_id, source_file)} with a "
            "unittest.TestCase subclass whose methods are named test_*. "
            f"{self._import_hint(source_file)} Call the failing code directly so the reported "
            "exception propagates and the test errors."
        )


@dataclass
class Django(PythonProject):
    name: str = "django"

    def needs(self) -> tuple[str, ...]:
        return ("django",)

    def _manage(self, label: str = "") -> str:
        cd = f"cd {shlex.quote(self.base)} && " if self.base else ""
        tail = f" {shlex.quote(label)}" if label else ""
        return f"{cd}{shlex.quote(self.python)} manage.py test --noinput{tail}"

    def suite_command(self) -> str:
        return self.test_command or self._manage()

    def test_file_command(self, path: str) -> str:
        inside = path[len(self.base) + 1 :] if self.base else path
        return self._manage(dotted(inside))

    def test_path(self, bug_id: int, source_file: str | None) -> str:
        name = f"test_logcenter_bug_{bug_id}.py"
        app = self._app(source_file)
        if app is None:
            return posixpath.join(self._test_folder(source_file), name)
        if self.checkout.has(f"{app}/tests/__init__.py"):
            return f"{app}/tests/{name}"
        return posixpath.join(app, name)

    def _app(self, source_file: str | None) -> str | None:
        """The Django app folder (with apps.py or models.py) of the source file, or nearest."""
        apps = self.checkout.folders_of(
            lambda f: (
                posixpath.basename(f) in ("apps.py", "models.py")
                and f.startswith(self.base)
                and posixpath.dirname(f) != self.base
            )
        )
        folder = posixpath.dirname(source_file or "")
        while folder:
            if folder in apps:
                return folder
            folder = posixpath.dirname(folder)
        return nearest_folder(apps, source_file)

    def conventions(self, bug_id: int, source_file: str | None) -> str:
        where = f" (from the folder {self.base}/)" if self.base else ""
        return (
            f"This is a Django project; its tests run with `python manage.py test`{where}. Write "
            f"{self.test_path(bug_id, source_file)} with a django.test.TestCase subclass "
            "(SimpleTestCase when no database is needed) whose methods are named test_*. "
            f"{self._import_hint(source_file)} Call the failing code directly so the reported "
            "exception propagates and the test errors."
        )


def detect(checkout: Checkout, local_path: Path | None) -> Pytest | Django | Unittest | None:
    """The Python runner of the checkout, or None when it is not a Python project."""
    has_manifest = any(checkout.has(m) for m in _MANIFESTS) or bool(
        checkout.top(lambda f: "requirements" in f and f.endswith(".txt"))
    )
    loose = any(f.endswith(".py") for f in checkout.files) and not any(
        checkout.has(m) for m in _OTHER_FAMILIES
    )
    if not (has_manifest or loose):
        return None
    texts = _config_texts(checkout)
    uses_pytest = _uses_pytest(checkout, texts)
    manage = _django_base(checkout)
    if manage is not None and not (uses_pytest and _PYTEST_DJANGO.search(texts)):
        return Django(checkout.root, checkout, local_path, base=manage)
    if uses_pytest or not any(_is_test_file(f) for f in checkout.files):
        return Pytest(checkout.root, checkout, local_path)
    return Unittest(checkout.root, checkout, local_path)


def _config_texts(checkout: Checkout) -> str:
    names = ["pyproject.toml", "setup.cfg", "tox.ini", "pytest.ini", "Pipfile", "setup.py"]
    names += checkout.top(lambda f: "requirements" in f and f.endswith(".txt"))
    names += [f for f in checkout.files if f.startswith("requirements/") and f.endswith(".txt")]
    return "\n".join(checkout.read(n) for n in names)


def _uses_pytest(checkout: Checkout, texts: str) -> bool:
    if checkout.has("pytest.ini") or any(
        posixpath.basename(f) == "conftest.py" for f in checkout.files
    ):
        return True
    configured = (
        "[tool.pytest" in checkout.read("pyproject.toml")
        or "[tool:pytest]" in checkout.read("setup.cfg")
        or "[pytest]" in checkout.read("tox.ini")
    )
    return configured or bool(_PYTEST_WORD.search(texts))


def _django_base(checkout: Checkout) -> str | None:
    """The folder of a manage.py whose settings module uses Django, or None."""
    candidates = [
        f for f in checkout.files if posixpath.basename(f) == "manage.py" and f.count("/") <= 1
    ]
    for manage in sorted(candidates, key=len):
        text = checkout.read(manage)
        match = _SETTINGS.search(text)
        if "django" not in text or not match:
            continue
        base = posixpath.dirname(manage)
        module = posixpath.join(base, match.group(1).replace(".", "/"))
        if _mentions_django(checkout, module):
            return base
    return None


def _mentions_django(checkout: Checkout, module: str) -> bool:
    """Whether the settings module (or a module of its package, for split settings) uses Django."""
    files = [f"{module}.py", f"{module}/__init__.py"]
    if not any(checkout.has(f) for f in files):
        return False
    folder = posixpath.dirname(module)
    files += [f for f in checkout.files if posixpath.dirname(f) == folder and f.endswith(".py")]
    return any("django" in checkout.read(f).lower() for f in files)
