"""The bubblewrap sandbox: host read-only, the worktree writable, secrets hidden, no network,
no capabilities, an unprivileged uid, process and memory limits, and nothing left running.

As an ordinary user (the Docker image's uid 10001) bwrap makes a user namespace that maps the
worker's uid to itself: the kernel sees the sandbox as that unprivileged uid, capabilities are
dropped and nested user namespaces are disabled. As root that is not enough: a namespace uid
would map back to root, which reads root's files by ownership alone. So a root worker runs bwrap
without a user namespace (root builds the mounts) and the command is started through `setpriv`
as a fresh uid no other process uses, with every capability, the bounding set and new
privileges gone; the worktree and writable caches are lent to that uid for the run
(`ownership.lent`). Limits are rlimits set inside the sandbox by `prlimit`: RLIMIT_NPROC counts
per uid (per user namespace since Linux 5.14), RLIMIT_DATA caps each process's heap without
breaking runtimes that reserve address space. `--unshare-pid` with `--die-with-parent` means
killing bwrap kills every process of the run.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from agent.isolation.base import MB, Limits, RunResult, RunSpec
from agent.isolation.errors import SandboxFailed, SandboxUnavailable
from agent.isolation.ownership import lent
from agent.isolation.process import run_process

#: The sandbox uids of a root worker are drawn from here, far from system, user and subuid ranges.
FIRST_UID = 2_100_000_000
UID_SPAN = 1_000_000
MIN_VERSION = (0, 8)
SHM_BYTES = 64 * MB
#: Run last in the sandbox, as the sandbox uid: enters the working directory (bwrap cannot
#: when it is a root worker's, lent to that uid), then prints a line proving the set-up worked.
_ANNOUNCE = 'cd -- "$1" || exit 126; shift; echo "$0"; exec "$@"'


@dataclass(frozen=True)
class Bubblewrap:
    """Runs commands with bwrap; see the module docstring for what holds as root and as not."""

    bwrap: str | None = field(default_factory=lambda: shutil.which("bwrap"))
    setpriv: str | None = field(default_factory=lambda: shutil.which("setpriv"))
    prlimit: str | None = field(default_factory=lambda: shutil.which("prlimit"))
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    name: str = "bubblewrap"

    def available(self) -> str | None:
        return _check(self)

    def run(self, spec: RunSpec) -> RunResult:
        reason = self.available()
        if reason:
            raise SandboxUnavailable(reason)
        return self.attempt(spec)

    def attempt(self, spec: RunSpec) -> RunResult:
        """`run` without the availability check (the check itself runs through here)."""
        worktree = spec.worktree.resolve()
        uid = unused_uid() if self.as_root else os.getuid()
        token = f"logcenter-sandbox-{secrets.token_hex(8)}"
        inner = self._inner(spec.limits, uid, token, spec.directory().resolve())
        argv = [*self._bwrap_args(spec, uid), *inner, *spec.argv()]
        with self._lend(spec, worktree, uid):
            finished = run_process(argv, spec.env, spec.limits)
        output = finished.output.text()
        started = output.find(token + "\n")
        if started < 0 and not finished.timed_out:
            raise SandboxFailed(f"bubblewrap could not set up the run: {output.strip()[-2000:]}")
        if started >= 0:
            output = output[:started] + output[started + len(token) + 1 :]
        return RunResult(
            command=spec.text(),
            exit_code=finished.exit_code,
            output=output,
            timed_out=finished.timed_out,
            duration=finished.duration,
            output_truncated=finished.output.dropped > 0,
            dropped_bytes=finished.output.dropped,
            sandbox=self.name,
            isolation=self.describe(spec, uid),
        )

    def describe(self, spec: RunSpec, uid: int) -> str:
        """`bubblewrap: no network, host read-only, uid 2100012345, limits 300 s / 2 GB / ...`."""
        network = "network" if spec.network else "no network"
        who = f"uid {uid}" if self.as_root else f"uid {uid} in a user namespace"
        return (
            f"{self.name}: {network}, host read-only, {who}, no capabilities, "
            f"limits {spec.limits.summary()}"
        )

    def _bwrap_args(self, spec: RunSpec, uid: int) -> list[str]:
        assert self.bwrap is not None
        args = [self.bwrap, *mount_args(spec, uid if self.as_root else None)]
        if self.as_root:
            # No user namespace (its uid would map to root); setpriv needs these three, once.
            args += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
            args += [] if spec.network else ["--unshare-net"]
            args += ["--cap-drop", "ALL"]
            for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
                args += ["--cap-add", cap]
        else:
            args += ["--unshare-all", "--unshare-user", "--disable-userns"]
            args += ["--share-net"] if spec.network else []
            args += ["--cap-drop", "ALL"]
        return [*args, "--die-with-parent", "--new-session", "--"]

    def _inner(self, limits: Limits, uid: int, token: str, cwd: Path) -> list[str]:
        assert self.prlimit is not None
        chain: list[str] = []
        if self.as_root:
            assert self.setpriv is not None
            chain += [self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            chain += ["--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
        chain += [self.prlimit, f"--nproc={limits.processes}", f"--data={limits.memory_bytes}"]
        chain += ["--core=0", "--"]
        return [*chain, "/bin/sh", "-c", _ANNOUNCE, token, str(cwd)]

    def _lend(self, spec: RunSpec, worktree: Path, uid: int) -> AbstractContextManager[None]:
        if not self.as_root:
            return nullcontext()
        roots = [worktree, *(path.resolve() for path in spec.writable)]
        return lent(roots, uid, uid, keep=[worktree / ".git"])


def mount_args(spec: RunSpec, foreign_uid: int | None) -> list[str]:
    """bwrap's filesystem options for `spec`, in order.

    Hidden paths and bind mounts are laid out parents first, so a path hidden inside the
    worktree stays hidden and a worktree inside a hidden data directory stays visible. A
    directory on the way to a mount that `foreign_uid` could not enter is replaced by an empty
    tmpfs: what it held was out of that uid's reach anyway. Every tmpfs standing in for a host
    directory is made read-only once the mounts inside it exist.
    """
    limits = spec.limits
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    args += ["--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    args += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    layout = _Layout(tmpfs=[Path("/dev"), Path("/proc"), Path("/tmp")])
    for path, kind in _planned(spec):
        if kind == "hide":
            args += layout.hide(path)
        else:
            args += layout.bind(path, kind, foreign_uid)
    for path in layout.remount:
        args += ["--remount-ro", str(path)]
    return args


def _planned(spec: RunSpec) -> list[tuple[Path, str]]:
    worktree = spec.worktree.resolve()
    plan = [(path.resolve(), "hide") for path in spec.hidden if os.path.lexists(path)]
    plan += [(path.resolve(), "ro") for path in spec.read_only]
    plan += [(path.resolve(), "rw") for path in spec.writable]
    plan.append((worktree, "rw"))
    git = worktree / ".git"
    if git.exists() and not git.is_symlink():
        plan.append((git, "ro"))  # the worker's git reads it after the run: hooks, fsmonitor
    return sorted(plan, key=lambda item: (len(item[0].parts), item[1] != "hide"))


@dataclass
class _Layout:
    """The mounts placed so far, to know what lies under each new path."""

    tmpfs: list[Path]
    binds: list[Path] = field(default_factory=list)
    made: set[Path] = field(default_factory=set)
    remount: list[Path] = field(default_factory=list)

    def under(self, path: Path) -> str:
        """What the deepest mount holding `path` is: "tmpfs", "bind" or "host"."""
        best, kind = -1, "host"
        for mounts, name in ((self.tmpfs, "tmpfs"), (self.binds, "bind")):
            for mount in mounts:
                if (mount == path or mount in path.parents) and len(mount.parts) > best:
                    best, kind = len(mount.parts), name
        return kind

    def hide(self, path: Path) -> list[str]:
        if self.under(path) == "tmpfs":
            return []  # already empty in the sandbox
        if path.is_dir() and not path.is_symlink():
            self.cover(path)
            return ["--perms", "0755", "--tmpfs", str(path)]
        return ["--ro-bind", "/dev/null", str(path)]

    def cover(self, path: Path) -> None:
        """A tmpfs now stands on `path`: hidden paths placed below it are gone with it."""
        self.tmpfs = [m for m in self.tmpfs if path not in m.parents] + [path]
        self.remount = [m for m in self.remount if path not in m.parents] + [path]
        self.made = {m for m in self.made if path not in m.parents}

    def bind(self, path: Path, kind: str, foreign_uid: int | None) -> list[str]:
        args: list[str] = []
        for parent in reversed(path.parents[:-1]):  # outermost first, "/" left out
            where = self.under(parent)
            if where == "tmpfs" and parent not in self.tmpfs and parent not in self.made:
                args += ["--perms", "0755", "--dir", str(parent)]
                self.made.add(parent)
            elif where == "host" and foreign_uid is not None and not _enters(parent, foreign_uid):
                args += ["--perms", "0755", "--tmpfs", str(parent)]
                self.cover(parent)
        self.binds.append(path)
        return [*args, "--ro-bind" if kind == "ro" else "--bind", str(path), str(path)]


def _enters(path: Path, uid: int) -> bool:
    """Whether `uid`, with no groups, may search the directory `path`."""
    info = os.stat(path)
    bit = stat.S_IXUSR if info.st_uid == uid else stat.S_IXOTH
    return bool(info.st_mode & bit)


def unused_uid() -> int:
    """A uid from the sandbox range that no visible process runs as."""
    busy = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                busy.add(entry.stat().st_uid)
            except FileNotFoundError:
                continue
    while True:
        uid = FIRST_UID + secrets.randbelow(UID_SPAN)
        if uid not in busy:
            return uid


@functools.cache
def _check(sandbox: Bubblewrap) -> str | None:
    """Why `sandbox` cannot run here, or None; runs a trivial command in it once per process."""
    if not sandbox.bwrap or not os.access(sandbox.bwrap, os.X_OK):
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    needed = {"prlimit": sandbox.prlimit, "setpriv": sandbox.setpriv if sandbox.as_root else "-"}
    missing = [name for name, path in needed.items() if not path]
    if missing:
        return f"{' and '.join(missing)} (util-linux) not found on PATH"
    version = _version(sandbox.bwrap)
    if version < MIN_VERSION:
        shown = ".".join(map(str, version)) or "unknown"
        return f"bubblewrap {shown} is too old: 0.8 or newer is needed (--size, --disable-userns)"
    with tempfile.TemporaryDirectory(prefix="logcenter-probe-") as temp:
        worktree = Path(temp) / "worktree"
        worktree.mkdir()
        spec = RunSpec(
            "echo probe > probe && cat probe",
            worktree,
            env={"PATH": "/usr/bin:/bin"},
            limits=Limits(wall_time=30),
        )
        try:
            result = sandbox.attempt(spec)
        except SandboxFailed as exc:
            return _explain(str(exc), sandbox.as_root)
    if not result.passed or "probe" not in result.output:
        return f"bubblewrap's probe command failed: {result.output.strip()[-500:]}"
    return None


def _version(bwrap: str) -> tuple[int, ...]:
    try:
        proc = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    found = re.search(r"(\d+)\.(\d+)", proc.stdout)
    return (int(found.group(1)), int(found.group(2))) if found else ()


def _explain(failure: str, as_root: bool) -> str:
    """A one-line reason for a failed probe, naming the kernel setting that likely caused it."""
    line = failure.rsplit("bwrap:", 1)[-1].strip().splitlines()[0] if failure else "no output"
    settings = {
        "kernel/unprivileged_userns_clone": ("0", "user namespaces are disabled"),
        "user/max_user_namespaces": ("0", "user namespaces are disabled"),
        "kernel/apparmor_restrict_unprivileged_userns": (
            "1",
            "AppArmor restricts unprivileged user namespaces",
        ),
    }
    for name, (bad, why) in settings.items():
        try:
            value = Path("/proc/sys", name).read_text().strip()
        except OSError:
            continue
        if value == bad and not as_root:
            return f"{why} ({name.replace('/', '.')}={value}): bwrap: {line}"
    if as_root:
        return f"bubblewrap cannot create namespaces as root (needs CAP_SYS_ADMIN): bwrap: {line}"
    return f"user namespaces are not available to this user: bwrap: {line}"
