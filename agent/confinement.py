"""What the commands of one repair may touch: decided here, enforced by the sandbox.

A repair runs code nobody reviewed: the LLM's reproduction test and fix, and the project's tests
that import them. `Confinement` turns each command into an `agent.isolation.RunSpec`. The
worktree is the only writable host path, besides the build caches the tests write (each run gets
a cache no other run is using). The prepared environment is read-only, with what it needs from
places the sandbox would not show by itself (the interpreter a virtualenv was made from, the
checkout holding a linked `.venv`). The worker's credentials, data directory, caches and Redis
socket appear empty; there is no network; the limits are the settings'. Preparing an
environment (`runner()`, the toolchains' hook) runs the same way, but may reach the package
registries and writes the project's environments and the download caches, one run at a time.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from agent.errors import SandboxError
from agent.isolation import (
    Limits,
    RunResult,
    RunSpec,
    Sandbox,
    SandboxFailed,
    SandboxUnavailable,
    choose,
    probe,
    secret_paths,
)
from agent.toolchains import Prepared, Runner
from agent.toolchains.cache import project_envs
from config.settings import Settings

#: HOME and TMPDIR of every sandboxed command: the run's private /tmp.
SANDBOX_TMP = Path("/tmp")
#: Cache locations the toolchains take from the environment; preparing may write them.
CACHE_VARIABLES = ("npm_config_cache", "GOMODCACHE", "GOCACHE", "GOPATH", "PUB_CACHE")
#: Runs sharing a writable cache at one time, at most (each beyond the first gets a copy).
MAX_COPIES = 32


@functools.cache
def worker_sandbox(kind: str) -> Sandbox:
    """The sandbox of this worker process (`choose` probes it once)."""
    return choose(kind)


class SandboxStatus(NamedTuple):
    """Whether repairs may run on this worker, in which sandbox, and a line saying how."""

    ok: bool
    kind: str
    line: str


def sandbox_status(settings: Settings) -> SandboxStatus:
    """How this worker's repairs run, or why they do not: its sandbox probed (once a process)."""
    report = probe(settings.repair_sandbox)
    kind = str(report["kind"])
    detail = str(report["detail"]).partition(", limits ")[0]  # the probe's own limits
    if not report["ok"]:
        line = f"WARNING: no sandbox works here, so repairs are refused: {detail}"
        return SandboxStatus(False, kind, line)
    limits = limits_of(settings, settings.test_timeout).summary()
    if kind == "none":
        return SandboxStatus(True, kind, f"WARNING: repairs run WITHOUT isolation ({detail})")
    return SandboxStatus(True, kind, f"repairs run sandboxed ({detail}), limits {limits}")


def announce(settings: Settings, command: str) -> bool:
    """Say on stderr, as a worker pool starts, whether its repairs run sandboxed; whether they
    may run at all."""
    status = sandbox_status(settings)
    print(f"{command}: {status.line}", file=sys.stderr, flush=True)
    return status.ok


def limits_of(settings: Settings, wall_time: float) -> Limits:
    return Limits(
        wall_time=wall_time,
        memory_bytes=settings.repair_memory_bytes,
        processes=settings.repair_processes,
        output_bytes=settings.repair_output_bytes,
    )


@dataclass(frozen=True)
class Confinement:
    """The confinement of one repair's commands, in `worktree`, for `project`."""

    sandbox: Sandbox
    settings: Settings
    worktree: Path
    project: str

    def run(
        self,
        command: str,
        env: Mapping[str, str],
        prepared: Prepared | None = None,
        tools: Sequence[str] = (),
    ) -> RunResult:
        """Run a test command in the worktree, offline, in the prepared environment; `tools`
        are the executables the toolchain runs (found on `env`'s PATH)."""
        found = [shutil.which(tool, path=env.get("PATH")) for tool in tools]
        environment = tuple(prepared.read_only) if prepared else ()
        needed = [*environment, *(Path(path) for path in found if path)]
        with ExitStack() as stack:
            caches = prepared.writable if prepared else ()
            writable, env = _own_copies(caches, env, self._locks(), stack)
            spec = RunSpec(
                command,
                self.worktree,
                env=sandboxed_env(env),
                read_only=[*environment, *reachable(needed, [self.worktree, *writable])],
                writable=writable,
                hidden=self.hidden(),
                limits=limits_of(self.settings, self.settings.test_timeout),
            )
            return self._run(spec)

    def runner(self) -> Runner:
        """The toolchains' runner for preparing the environment: with the network, and the
        project's environments and the download caches writable, one run at a time."""

        def run(
            argv: list[str], cwd: Path, env: Mapping[str, str], timeout: float
        ) -> tuple[int, str]:
            writable = self._preparing(env)
            program = (
                argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0], path=env.get("PATH"))
            )
            needed = [cwd, *([Path(program)] if program else [])]
            with _locked(self._locks(), writable):
                spec = RunSpec(
                    argv,
                    self.worktree,
                    env=sandboxed_env(env),
                    cwd=cwd,
                    read_only=reachable(needed, [self.worktree, *writable]),
                    writable=writable,
                    hidden=self.hidden(),
                    network=True,
                    limits=limits_of(self.settings, timeout),
                )
                result = self._run(spec)
            output = result.output
            if result.timed_out:
                output += f"\n`{result.command}` ran longer than {timeout:.0f}s and was stopped"
            return result.exit_code, output

        return run

    def hidden(self) -> tuple[Path, ...]:
        """What must look empty: HOME's credentials, the data dir, every cache of the worker
        (other projects' environments and clones, other repairs' worktrees), Redis's socket."""
        s = self.settings
        paths = [*secret_paths(Path.home()), s.data_dir, s.worker_cache_dir]
        socket = redis_socket(s.redis_url)
        if socket is not None:  # a socket in a folder of its own: the whole folder
            paths.append(socket.parent if len(socket.parent.parts) > 2 else socket)
        return tuple(Path(os.path.abspath(path)) for path in paths)

    def _preparing(self, env: Mapping[str, str]) -> list[Path]:
        """What preparing writes: the project's environments and the caches `env` names."""
        paths = [project_envs(self.settings.worker_cache_dir, self.project)]
        paths += [Path(env[name]) for name in CACHE_VARIABLES if env.get(name)]
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
        return list(dict.fromkeys(path.resolve() for path in paths))

    def _locks(self) -> Path:
        return self.settings.worker_cache_dir.resolve() / "locks"

    def _run(self, spec: RunSpec) -> RunResult:
        try:
            return self.sandbox.run(spec)
        except SandboxUnavailable as exc:
            raise SandboxError(f"no sandbox to run `{spec.text()}` in: {exc}") from exc
        except SandboxFailed as exc:
            raise SandboxError(f"sandbox failed (not the tests): {exc}") from exc


def sandboxed_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with HOME and TMPDIR in the run's private /tmp, and no XDG folders of the worker."""
    kept = {name: value for name, value in env.items() if not name.startswith("XDG_")}
    return {**kept, "HOME": str(SANDBOX_TMP), "TMPDIR": str(SANDBOX_TMP)}


def redis_socket(url: str) -> Path | None:
    """The socket file of a `unix://` Redis URL."""
    if not url.startswith("unix://"):
        return None
    return Path(url.removeprefix("unix://").split("?", 1)[0])


def reachable(paths: Iterable[Path], mounted: Sequence[Path] = ()) -> list[Path]:
    """Read-only mounts that make `paths` (tools, environments, folders) work in the sandbox as
    they do here: those of their folders, targets and interpreters that the sandbox would not
    show by itself, and that are not inside the `mounted` ones already."""
    found: dict[Path, None] = {}
    for path in paths:
        for needed in _needs(Path(os.path.abspath(path))):
            inside = any(needed == m or m in needed.parents for m in mounted)
            if needed.exists() and not inside and _concealed(needed):
                found[needed] = None
    return list(found)


def _needs(path: Path) -> list[Path]:
    """`path`, the folder holding the first symlink on its way (the checkout of a linked
    `.venv`), its real location, and the installation a program or virtualenv runs from."""
    needs = [path]
    link = next((p for p in [*reversed(path.parents), path] if p.is_symlink()), None)
    if link is not None:
        needs.append(link.parent)
    real = path.resolve()
    needs.append(real)
    if real.is_file():
        needs.append(_prefix(real.parent))
    venv = next((p for p in (path, path.parent.parent) if (p / "pyvenv.cfg").is_file()), None)
    home = _pyvenv_home(venv) if venv else None
    if venv is not None and home is not None:
        needs += [venv, venv.resolve(), _prefix(home.resolve())]
    return needs


def _prefix(folder: Path) -> Path:
    """An installation's root from its bin folder (`/opt/go/bin` -> `/opt/go`)."""
    return folder.parent if folder.name == "bin" else folder


def _pyvenv_home(venv: Path) -> Path | None:
    """The folder of the interpreter a virtualenv was made from (pyvenv.cfg's `home`)."""
    for line in (venv / "pyvenv.cfg").read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return Path(value.strip())
    return None


def _concealed(path: Path) -> bool:
    """Whether a sandboxed run would not see `path` by itself: /tmp is private there, and an
    unprivileged uid cannot pass a folder that others may not enter."""
    if path == SANDBOX_TMP or SANDBOX_TMP in path.parents:
        return True
    folders = [*reversed(path.parents), *([path] if path.is_dir() else [])]
    return any(not os.stat(folder).st_mode & stat.S_IXOTH for folder in folders)


def _own_copies(
    caches: Iterable[Path], env: Mapping[str, str], locks: Path, stack: ExitStack
) -> tuple[list[Path], dict[str, str]]:
    """A writable cache per run: the cache itself when no other run holds it, else a copy of
    it next to it (`<cache>-2`, ...), named in `env` instead. A root worker lends a writable
    folder to each run's uid, so two runs must never share one."""
    env = dict(env)
    mine: list[Path] = []
    for cache in caches:
        for index in range(1, MAX_COPIES + 1):
            copy = cache if index == 1 else cache.with_name(f"{cache.name}-{index}")
            if _try_lock(locks, copy.resolve(), stack):
                break
        else:
            stack.enter_context(_locked(locks, [cache.resolve()]))  # all taken: wait
            copy = cache
        copy.mkdir(parents=True, exist_ok=True)
        env = {name: str(copy) if value == str(cache) else value for name, value in env.items()}
        mine.append(copy)
    return mine, env


def _lock_file(locks: Path, path: Path) -> Path:
    locks.mkdir(parents=True, exist_ok=True)
    return locks / f"cache-{hashlib.sha1(str(path).encode()).hexdigest()[:16]}.lock"


def _try_lock(locks: Path, path: Path, stack: ExitStack) -> bool:
    """Hold `path`'s lock until `stack` closes, if no one else holds it."""
    handle = open(_lock_file(locks, path), "a")  # noqa: SIM115 - closed by the stack
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    stack.callback(handle.close)
    return True


@contextmanager
def _locked(locks: Path, paths: Iterable[Path]) -> Iterator[None]:
    """Hold the locks of `paths` (in one order, so two holders never deadlock)."""
    with ExitStack() as stack:
        for path in sorted(set(paths)):
            handle = stack.enter_context(open(_lock_file(locks, path), "a"))
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
