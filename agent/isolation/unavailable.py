"""The sandbox `choose()` returns when none works: it says why, and refuses to run anything."""

from __future__ import annotations

from dataclasses import dataclass

from agent.isolation.base import RunResult, RunSpec
from agent.isolation.errors import SandboxUnavailable


@dataclass(frozen=True)
class NoSandbox:
    """Stands in for a missing sandbox so that a worker can start and report why it cannot
    repair: every `run` raises SandboxUnavailable with `reason`."""

    reason: str
    name: str = "unavailable"

    def available(self) -> str | None:
        return self.reason

    def run(self, spec: RunSpec) -> RunResult:
        raise SandboxUnavailable(f"refusing to run `{spec.text()}`: {self.reason}")
