"""Project environments built once per committed manifest and shared by worker processes.

An environment lives in `<cache_dir>/envs/<project>/<key>/`, where the key hashes the manifests
and lockfiles as committed at the base commit (read with `git show`, so an edit in the worktree
never decides what gets installed). A build holds an exclusive lock on `<key>.lock` and fills a
sibling temp directory that is renamed into place only when complete: another worker sees a whole
environment or none, and a build that crashed leaves a temp directory the next build removes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from agent.toolchains.base import PrepareContext
from agent.toolchains.errors import PrepareFailed

#: Bumped when a recipe changes, so environments built the old way are not reused.
RECIPE_VERSION = "1"
_NOISE = re.compile(
    r"^[\s\W_]*$|\[notice\]|^npm (?:notice|warn (?:deprecated|install-scripts))"
    r"|^\s*(?:Downloading|Collecting|Using cached|Obtaining)\b|[━█▕▏]"
)
TAIL_LINES = 12
TAIL_CHARS = 1500


def committed_files(worktree: Path, commit: str) -> list[str]:
    """Every file path of `commit`."""
    return _git(worktree, "ls-tree", "-r", "--name-only", "-z", commit).split("\0")


def committed(worktree: Path, commit: str, paths: Iterable[str]) -> dict[str, bytes]:
    """The content at `commit` of those of `paths` that exist in it."""
    present = set(committed_files(worktree, commit))
    out: dict[str, bytes] = {}
    for path in sorted(set(paths) & present):
        proc = subprocess.run(
            ["git", "-C", str(worktree), "show", f"{commit}:{path}"],
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip()
            raise PrepareFailed(f"cannot read {path} at {commit[:12]}: {detail}")
        out[path] = proc.stdout
    return out


def _git(worktree: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(worktree), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise PrepareFailed(f"git {args[0]} failed in {worktree}: {proc.stderr.strip()}")
    return proc.stdout


def env_key(files: Mapping[str, bytes], *tags: str) -> str:
    """A short hash of the files (names and content) and the tags (runner, tool versions)."""
    digest = hashlib.sha256(RECIPE_VERSION.encode())
    for tag in tags:
        digest.update(b"\0tag\0" + tag.encode())
    for name in sorted(files):
        digest.update(b"\0file\0" + name.encode() + b"\0" + files[name])
    return digest.hexdigest()[:20]


def env_dir(ctx: PrepareContext, key: str) -> Path:
    """Where the environment of `ctx.project` with `key` lives (built or not)."""
    return project_envs(ctx.cache_dir, ctx.project) / key


def project_envs(cache_dir: Path, project: str) -> Path:
    """The folder of every environment of `project`, and of their builds in progress."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", project).strip(".")[:60] or "project"
    return cache_dir.resolve() / "envs" / name


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if needed), held across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(final: Path, build: Callable[[Path], None]) -> bool:
    """Make `final` with `build(temp_dir)` unless it exists; True when this call built it.

    `build` fills a temp directory that becomes `final` by a rename, so whatever it writes must
    name `final`, not the temp path (see `relocate`). Any failure removes the temp directory.
    """
    if final.is_dir():
        return False
    with locked(final.with_name(final.name + ".lock")):
        if final.is_dir():
            return False
        for stale in final.parent.glob(f".{final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        temp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
        temp.mkdir()
        try:
            build(temp)
            os.rename(temp, final)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
    return True


def relocate(folder: Path, old: Path, new: Path) -> None:
    """Replace the path `old` by `new` in the small text files of `folder` (script shebangs)."""
    before, after = str(old).encode(), str(new).encode()
    for item in folder.iterdir():
        if item.is_symlink() or not item.is_file() or item.stat().st_size > 1_000_000:
            continue
        data = item.read_bytes()
        if before in data and b"\0" not in data[:1024]:
            item.write_bytes(data.replace(before, after))


def last_lines(output: str) -> str:
    """The last meaningful lines of a tool's output: no blanks, progress bars or notices."""
    lines = [line.rstrip() for line in output.splitlines() if not _NOISE.search(line)]
    return "\n".join(lines[-TAIL_LINES:])[-TAIL_CHARS:]


def run_checked(
    ctx: PrepareContext, argv: list[str], cwd: Path, env: Mapping[str, str], what: str
) -> str:
    """Run a preparation command with `ctx.run`; PrepareFailed with its last lines on failure."""
    try:
        code, output = ctx.run(argv, cwd, env, ctx.timeout)
    except OSError as exc:
        raise PrepareFailed(f"{what} failed: cannot run `{argv[0]}`: {exc}") from exc
    if code != 0:
        command = shlex.join(argv)
        tail = last_lines(output) or "(no output)"
        raise PrepareFailed(f"{what} failed: `{command}` exited with status {code}:\n{tail}")
    return output
