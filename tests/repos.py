"""The calc project the repair agent fixes in tests: a small Python package with a bug (the
average of an empty list divides by zero) and a pytest suite (pytest is its dev requirement), as
real git repositories; the user's checkout may have its own virtualenv, as a developer's has."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

OPS = '''\
"""Small statistics helpers."""


def average(values):
    total = sum(values)
    return total / len(values)


def spread(values):
    return max(values) - min(values)
'''

SUITE = """\
from calc.ops import average, spread


def test_average():
    assert average([1, 2, 3]) == 2


def test_spread():
    assert spread([1, 5, 3]) == 4
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@dataclass
class Repos:
    """A bare `origin`, and the user's checkout of it (`local_path`) with uncommitted work."""

    origin: Path
    checkout: Path
    base_commit: str

    def branches(self, repo: Path) -> list[str]:
        out = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        return out.splitlines()


def make_repos(tmp_path: Path, venv: Path | None = None) -> Repos:
    """The calc repositories under `tmp_path`; `venv` becomes the checkout's `.venv`."""
    seed = tmp_path / "seed"
    (seed / "calc").mkdir(parents=True)
    (seed / "tests").mkdir()
    (seed / "calc" / "__init__.py").write_text("")
    (seed / "calc" / "ops.py").write_text(OPS)
    (seed / "tests" / "test_ops.py").write_text(SUITE)
    (seed / "README.md").write_text("# calc\n")
    (seed / "requirements-dev.txt").write_text("pytest\n")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "calc: average and spread")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(origin))
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(origin), str(checkout))
    # The user's work in progress, which the agent must never touch.
    (checkout / "README.md").write_text("# calc\n\nwork in progress\n")
    (checkout / "notes.txt").write_text("untracked notes\n")
    if venv is not None:
        (checkout / ".venv").symlink_to(venv, target_is_directory=True)
    return Repos(origin, checkout, git(checkout, "rev-parse", "HEAD"))
