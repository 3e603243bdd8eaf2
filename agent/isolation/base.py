"""The sandbox seam: what a repair asks for when it runs code it did not write, and what it gets.

A repair runs LLM-written code (a reproduction test, changed project code, the project's own
tests). `RunSpec` says what that code may touch: the worktree (the only writable host path), the
project's environment cache read-only, a few writable caches, no network unless the run prepares
an environment from the committed lockfile, and paths that must look empty (the worker's
secrets). A `Sandbox` runs it within `Limits` and returns a `RunResult` whose output was read into
a bounded buffer. Implementations satisfy the Protocol without inheriting; `choose()` picks one.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

MB = 1024 * 1024
GB = 1024 * MB
TAIL_CHARS = 4000

#: Credentials and keys under a worker's HOME that no sandboxed run should see.
HOME_SECRETS = (
    ".ssh",
    ".gnupg",
    ".git-credentials",
    ".gitconfig",
    ".config",
    ".netrc",
    ".pypirc",
    ".npmrc",
    ".docker",
    ".kube",
    ".aws",
    ".azure",
    ".local/share/keyrings",
)
#: Host sockets that hand out root-equivalent power to whoever can connect.
HOST_SOCKETS = ("/run/docker.sock", "/var/run/docker.sock", "/run/containerd", "/run/podman")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. Memory and processes apply per sandbox run (see the
    implementation for how); output beyond `output_bytes` is dropped from the middle."""

    wall_time: float = 300.0
    memory_bytes: int = 2 * GB
    processes: int = 256
    output_bytes: int = 10 * MB
    #: Size of the run's private /tmp (a tmpfs: memory, so it is capped too).
    tmp_bytes: int = 1 * GB

    def summary(self) -> str:
        """`300 s / 2 GB / 256 procs / 10 MB`: wall time, memory, processes, output."""
        return (
            f"{self.wall_time:g} s / {size(self.memory_bytes)} / {self.processes} procs / "
            f"{size(self.output_bytes)}"
        )


@dataclass(frozen=True)
class RunSpec:
    """One command to run in a sandbox.

    `command` is a shell string (run by /bin/sh -c) or an argv. `cwd` defaults to the worktree.
    `env` is the whole environment of the command (nothing is inherited); give it a HOME the
    command may write, such as /tmp. `read_only` paths are mounted read-only (the project's
    environment cache), `writable` ones read-write (a build cache), `hidden` ones appear empty.
    """

    command: str | Sequence[str]
    worktree: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    read_only: Sequence[Path] = ()
    writable: Sequence[Path] = ()
    hidden: Sequence[Path] = ()
    network: bool = False
    limits: Limits = Limits()

    def argv(self) -> list[str]:
        """The command as an argv: a shell string becomes `/bin/sh -c <string>`."""
        if isinstance(self.command, str):
            return ["/bin/sh", "-c", self.command]
        return list(self.command)

    def text(self) -> str:
        """The command as reports show it."""
        return self.command if isinstance(self.command, str) else shlex.join(self.command)

    def directory(self) -> Path:
        return self.cwd if self.cwd is not None else self.worktree


@dataclass(frozen=True)
class RunResult:
    """What a run did. Field-compatible with `agent.sandbox.RunResult`, plus what was cut and
    which sandbox ran it (`sandbox` is its name, `isolation` a line for repair reports)."""

    command: str
    exit_code: int
    output: str
    timed_out: bool
    duration: float
    output_truncated: bool = False
    dropped_bytes: int = 0
    sandbox: str = "none"
    isolation: str = ""

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def tail(self, chars: int = TAIL_CHARS) -> str:
        return self.output[-chars:]


class Sandbox(Protocol):
    """Runs commands with the isolation its name promises."""

    @property
    def name(self) -> str:
        """ "bubblewrap", "none" (unconfined) or "unavailable"."""
        ...

    def available(self) -> str | None:
        """None when this sandbox works on this machine, else why not (one line)."""
        ...

    def run(self, spec: RunSpec) -> RunResult:
        """Run `spec` to completion, timeout or limit; never leaves a process behind.
        Raises SandboxUnavailable when the sandbox cannot run, SandboxFailed when setting it
        up failed for this spec (a missing mount source, say)."""
        ...


def secret_paths(home: Path) -> tuple[Path, ...]:
    """The credentials under `home` and the host's container sockets, for `RunSpec.hidden`."""
    return tuple(home / name for name in HOME_SECRETS) + tuple(Path(p) for p in HOST_SOCKETS)


def size(count: int) -> str:
    """`2 GB`, `10 MB`, `512 KB`, `100 bytes` (binary units, short names)."""
    for unit, name in ((GB, "GB"), (MB, "MB"), (1024, "KB")):
        if count >= unit:
            value = count / unit
            return f"{value:.3g} {name}" if value < 100 else f"{value:.0f} {name}"
    return f"{count} bytes"
