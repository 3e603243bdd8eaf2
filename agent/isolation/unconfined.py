"""No isolation: the command runs as the worker, with the worker's network and filesystem.

Only an operator who accepts that risk gets this, by setting LOGCENTER_REPAIR_SANDBOX=none. It
keeps what the agent always did (a session of its own, a timeout, a kill of the whole process
group) and adds the bounded output. A process that leaves the session survives the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from agent.isolation.base import RunResult, RunSpec, size
from agent.isolation.process import run_process


@dataclass(frozen=True)
class Unconfined:
    """Runs commands directly; `available()` always says yes, and the result says "none"."""

    name: str = "none"

    def available(self) -> str | None:
        return None

    def run(self, spec: RunSpec) -> RunResult:
        finished = run_process(spec.argv(), spec.env, spec.limits, cwd=spec.directory())
        limits = spec.limits
        return RunResult(
            command=spec.text(),
            exit_code=finished.exit_code,
            output=finished.output.text(),
            timed_out=finished.timed_out,
            duration=finished.duration,
            output_truncated=finished.output.dropped > 0,
            dropped_bytes=finished.output.dropped,
            sandbox=self.name,
            isolation=(
                f"none: no isolation (LOGCENTER_REPAIR_SANDBOX=none), network and host open, "
                f"uid {os.getuid()}, limits {limits.wall_time:g} s / {size(limits.output_bytes)}"
            ),
        )
