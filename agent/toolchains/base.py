"""The toolchain seam: what the repair agent needs to know to test a repository in its own stack.

A `Toolchain` says which language and runner a repository uses, which executables the worker must
have, how to prepare the project's environment (built once per lockfile in the worker's cache,
never from Log Center's own interpreter), how to run the suite or one test file, where a new
reproduction test goes, and how to read a test run's output. Each family (Python, Node, Go,
Dart/Flutter) satisfies the Protocol in a module of its own; `detect()` chooses one.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agent.sandbox import run_command

#: Runs `argv` in `cwd` with exactly `env` for at most `timeout` seconds; (exit code, output).
Runner = Callable[[list[str], Path, Mapping[str, str], float], tuple[int, str]]
PREPARE_TIMEOUT = 900.0


def run_subprocess(
    argv: list[str], cwd: Path, env: Mapping[str, str], timeout: float
) -> tuple[int, str]:
    """The default `Runner`: a subprocess in a session of its own, killed whole on timeout.
    A repair passes the sandbox's instead (`agent.confinement.Confinement.runner`)."""
    result = run_command(shlex.join(argv), cwd, timeout, env)
    output = result.output
    if result.timed_out:
        output += f"\n`{shlex.join(argv)}` ran longer than {timeout:.0f}s and was stopped"
    return result.exit_code, output


@dataclass(frozen=True)
class PrepareContext:
    """What `Toolchain.prepare` needs from the caller.

    `env` is the base environment of every command (the caller's secret-free environment);
    cache locations an operator already set there (`npm_config_cache`, `GOMODCACHE`, `GOCACHE`,
    `PUB_CACHE`) are kept, the others go under `cache_dir`. Manifests are read from git at
    `commit`, so a file changed in the worktree never decides what is installed.
    """

    cache_dir: Path
    project: str
    commit: str = "HEAD"
    run: Runner = run_subprocess
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    timeout: float = PREPARE_TIMEOUT


@dataclass(frozen=True)
class Prepared:
    """A prepared environment: what to add to the base environment, and what the run touches.

    `env` holds complete values (PATH is the base PATH with the toolchain's directories first).
    `read_only` are the cache directories the tests read (a sandbox mounts them read-only);
    `writable` the caches they write (Go's build cache). `ignored_paths` are worktree paths that
    preparing created (the `node_modules` link, `.dart_tool`): the caller must keep them out of
    commits. `built` is True when this call built the environment, False on a cache hit.
    """

    env: Mapping[str, str]
    root: Path | None = None
    read_only: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = ()
    ignored_paths: tuple[str, ...] = ()
    built: bool = False

    def apply(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with this environment's variables added or replaced."""
        return {**base, **self.env}


class Toolchain(Protocol):
    """One repository's language and test runner; see the module docstring."""

    #: The runner: "pytest", "django", "unittest", "vitest", "jest", "mocha", "node-test",
    #: "go", "dart" or "flutter".
    name: str
    #: "python", "javascript", "typescript", "go" or "dart".
    language: str
    worktree: Path
    #: The project's configured test command; when set, `suite_command()` returns it.
    test_command: str | None

    def required_tools(self) -> list[str]:
        """Executables the worker must have on PATH, e.g. ["node", "npm"]."""
        ...

    def prepare(self, ctx: PrepareContext) -> Prepared:
        """Build or reuse the project's environment; later commands use it. May raise
        PrepareFailed. Call it again after the worktree was reset (a cache hit, it relinks)."""
        ...

    def suite_command(self) -> str:
        """Shell command running the whole suite, with cwd = worktree."""
        ...

    def test_file_command(self, path: str) -> str:
        """Shell command running one test file (a worktree-relative path)."""
        ...

    def test_path(self, bug_id: int, source_file: str | None) -> str:
        """Where the reproduction test of bug `bug_id` goes so that the runner collects it."""
        ...

    def conventions(self, bug_id: int, source_file: str | None) -> str:
        """A paragraph for the LLM: framework, imports of the code under test, file naming."""
        ...

    def reproduces(self, output: str, error_type: str) -> bool:
        """Whether a failing run's output names the reported error type (True if none)."""
        ...

    def failing_test(self, output: str) -> str | None:
        """The first failing test the output names, or None."""
        ...


def mentions(
    output: str, error_type: str, aliases: Mapping[str, tuple[str, ...]] | None = None
) -> bool:
    """Word match of `error_type` (or its last dotted part, or an alias text) in `output`.

    A blank error type matches any output: there is nothing more to check.
    """
    wanted = error_type.strip().lstrip("*")
    if not wanted:
        return True
    short = wanted.rsplit(".", 1)[-1]
    for name in dict.fromkeys((wanted, short)):
        if re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", output):
            return True
    known = aliases or {}
    return any(text in output for text in known.get(wanted, known.get(short, ())))


def first_match(patterns: tuple[re.Pattern[str], ...], output: str) -> str | None:
    """The first group of the earliest-listed pattern that matches `output`."""
    for pattern in patterns:
        match = pattern.search(output)
        if match:
            return match.group(1).strip()
    return None


def prepend_path(env: Mapping[str, str], *dirs: Path) -> str:
    """`env`'s PATH with `dirs` in front."""
    current = env.get("PATH", os.defpath)
    return os.pathsep.join([*(str(d) for d in dirs), current])
