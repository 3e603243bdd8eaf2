"""Running one process group to its end: bounded output, a wall-clock deadline, one kill for all.

The group is killed before the leader is reaped, so its id cannot have been reused by then.
Output is read in chunks into a `BoundedOutput`; reading stops at end of file, at the deadline,
or shortly after the leader exited when something outside the group still holds the pipe.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.isolation.base import Limits
from agent.isolation.output import BoundedOutput

CHUNK = 1024 * 1024
#: How long output is still read after the leader exited (an escaped child may hold the pipe).
GRACE = 2.0


@dataclass(frozen=True)
class Finished:
    exit_code: int
    output: BoundedOutput
    timed_out: bool
    duration: float


def run_process(
    argv: Sequence[str], env: Mapping[str, str], limits: Limits, cwd: Path = Path("/")
) -> Finished:
    """Run `argv` in a session of its own; kill its process group when it ends or times out."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    output = BoundedOutput(limits.output_bytes)
    try:
        timed_out = _pump(proc.pid, proc.stdout.fileno(), output, started + limits.wall_time)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stdout.close()
        proc.wait()
    return Finished(proc.returncode, output, timed_out, time.monotonic() - started)


def _pump(pid: int, fd: int, output: BoundedOutput, deadline: float) -> bool:
    """Read `fd` into `output` until end of file; True when the deadline came first."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, CHUNK)  # fewer wake-ups for chatty commands
    exited_at: float | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if now >= deadline:
                return True
            if exited_at is None and _exited(pid):
                exited_at = now
            if exited_at is not None and now - exited_at > GRACE:
                return False
            if selector.select(timeout=min(deadline - now, 0.1)):
                data = os.read(fd, CHUNK)
                if not data:
                    return False
                output.feed(data)


def _exited(pid: int) -> bool:
    """Whether `pid` exited, without reaping it."""
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    return os.waitid(os.P_PID, pid, flags) is not None
