"""The project environment of one repair: the toolchain that runs the project's commands, whether
the repair can go on with it, and the environment variables those commands run with.

Finding and preparing a toolchain is `agent.toolchains`' work; this module says what a repair
does with the result. A repository with no recognised toolchain and no `test_command` cannot be
repaired; a cicd or deployment bug is checked by the project's suite, so its `test_command`
alone will do; a runtime bug needs a toolchain for its reproduction test; a missing tool or a
failed preparation ends the repair with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import RepairFailure
from agent.toolchains import (
    PrepareContext,
    Prepared,
    Runner,
    Toolchain,
    ToolMissing,
    detect,
    missing_tool,
    run_subprocess,
    with_test_command,
)

#: Sources whose bugs are checked by running the project's tests rather than a new test.
PIPELINE_SOURCES = frozenset({"cicd", "deployment"})
SUPPORTED = (
    "Python (pytest, Django, unittest), JavaScript/TypeScript (vitest, jest, mocha, node --test), "
    "Go or Dart/Flutter"
)


@dataclass
class ProjectEnv:
    """A worktree's toolchain (None when nothing was recognised) and the configured command."""

    tc: Toolchain | None
    test_command: str | None
    #: The secret-free environment of the worker; `run_env` adds the prepared toolchain's.
    base: dict[str, str]
    run_env: dict[str, str] = field(default_factory=dict)
    #: The environment `prepare` made last: what the project's commands read and write.
    prepared: Prepared | None = None

    @classmethod
    def detect(
        cls,
        worktree: Path,
        local_path: str | None,
        source_file: str | None,
        test_command: str | None,
        base: dict[str, str],
    ) -> ProjectEnv:
        """Detect the toolchain of `worktree`; `source_file` is the failing file's repo path."""
        local = Path(local_path) if local_path else None
        found = detect(worktree, local if local and local.is_dir() else None, source_file)
        tc = with_test_command(found, test_command) if found else None
        return cls(tc, test_command, base, dict(base))

    @property
    def suite(self) -> str:
        """The command running the project's whole suite."""
        return self.tc.suite_command() if self.tc else (self.test_command or "")

    def missing(self) -> str | None:
        """The first tool the toolchain needs that this worker lacks."""
        return missing_tool(self.tc, self.base) if self.tc else None

    def check(self, source: str, project_id: str) -> None:
        """Raise the RepairFailure that stops a repair of a `source` bug before it starts."""
        if self.tc is None:
            if not self.test_command:
                raise RepairFailure(
                    f"no toolchain detected: the repository is not a {SUPPORTED} project that "
                    "Log Center recognises, and the project has no test_command; set the "
                    "project's test_command on the projects page or with "
                    f"PUT /api/v1/projects/{project_id}"
                )
            if source not in PIPELINE_SOURCES:
                raise RepairFailure(
                    f"no toolchain detected: a reproduction test of this {source} bug needs a "
                    f"{SUPPORTED} project; the test_command `{self.test_command}` alone only "
                    "checks cicd and deployment bugs"
                )
            return
        tool = self.missing()
        if tool:
            raise ToolMissing(tool, self.tc.name)

    def prepare(
        self, cache_dir: Path, project_id: str, commit: str, run: Runner = run_subprocess
    ) -> Prepared | None:
        """Build or reuse the project's environment, running the toolchain's commands with
        `run`; commands run in it from now on. Call it again after the worktree was reset (a
        cache hit that relinks). May raise PrepareFailed."""
        if self.tc is None:
            return None
        ctx = PrepareContext(cache_dir, project_id, commit, run=run, env=self.base)
        self.prepared = self.tc.prepare(ctx)
        self.run_env = self.prepared.apply(self.base)
        return self.prepared

    def tools(self) -> list[str]:
        """The executables the project's commands run (node, go, ...), found on the PATH."""
        return self.tc.required_tools() if self.tc else []

    def info(self, suite: str, problem: str | None) -> dict[str, Any]:
        """What the projects page shows of this detection (`PUT .../toolchain`'s body)."""
        tool = self.missing()
        return {
            "name": self.tc.name if self.tc else None,
            "language": self.tc.language if self.tc else None,
            "test_command": suite or None,
            "missing": [tool] if tool else [],
            "problem": problem,
        }
