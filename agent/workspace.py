"""A private git worktree per repair, on branch `logcenter/fix-<bug id>`.

The user's own checkout (`local_path`) is never touched: we only add a worktree next to it, in the
worker's cache directory. The worktree starts from the newest commit of the project's remote:
`origin` (or the remote whose URL is `repo_url`) is fetched first, which only moves
remote-tracking refs; a checkout without a remote starts from its local default branch. Without a
usable `local_path` the repository is cloned from `repo_url` into the cache once and fetched
before each repair. The fix branch is pushed to the checkout's remote that `repo_url` names (any
other `repo_url` is refused: a branch goes only where its code came from), else to `origin`; with
no remote at all it stays in the local repository. The commit identity is passed per command in
the environment, so no git configuration of the user's repository is changed.

Sandboxed runs write into the worktree, so the worker treats it as untrusted afterwards: git runs
with no hooks and no fsmonitor, a reset removes everything git does not track (ignored files
too), files are written without following symlinks, and a commit holds what was staged before
the tests ran, never what a run left behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git

from agent.errors import PushFailed, WorkspaceError
from agent.sandbox import redact_url
from agent.toolchains.cache import locked

BRANCH_PREFIX = "logcenter/fix-"
GIT_TIMEOUT = 300.0
AUTHOR = ("Log Center repair agent", "repair-agent@logcenter.invalid")
#: Git must never wait for a password on a terminal nobody watches.
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": AUTHOR[0],
    "GIT_AUTHOR_EMAIL": AUTHOR[1],
    "GIT_COMMITTER_NAME": AUTHOR[0],
    "GIT_COMMITTER_EMAIL": AUTHOR[1],
}
#: Lines of git's stderr that say nothing about what failed (progress, advice, boilerplate).
_GIT_NOISE = re.compile(
    r"^(?:Cloning into |To |From |hint: |Please make sure you have the correct access rights"
    r"|and the repository exists\.|remote: (?:Enumerating|Counting|Compressing|Total)\b)"
)
_GIT_DETAIL_LINES = 4
_GIT_VERDICT = re.compile(r"^(?:fatal|error): ")
_SCP_LIKE = re.compile(r"^[^/:]+:")
#: What a run in the worktree may have planted must never run in the worker: hooks, fsmonitor.
_SAFE_GIT = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null")


@dataclass(frozen=True)
class RepoSource:
    """Where a project's code is: a checkout on this machine and/or a remote URL."""

    project_id: str
    local_path: str | None = None
    repo_url: str | None = None
    default_branch: str | None = None


@dataclass(frozen=True)
class Base:
    """What a worktree starts from and where its branch goes.

    `ref` is the commit's ref (`refs/remotes/origin/main` after a fetch, `refs/heads/main` in a
    checkout without a remote); `push_to` a remote name or URL, None when there is no remote.
    """

    repo: git.Repo
    ref: str
    branch: str
    push_to: str | None


def _git_error(exc: git.GitCommandError) -> str:
    """The lines of git's stderr that say what failed, in one line, URL credentials removed."""
    text = str(exc.stderr or "").strip().removeprefix("stderr:").strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    kept = [line for line in lines if not _GIT_NOISE.match(line)]
    # The last lines, unless they are advice that follows git's own `fatal:` line.
    first = next((i for i, line in enumerate(kept) if _GIT_VERDICT.match(line)), len(kept))
    start = first if first < len(kept) - _GIT_DETAIL_LINES else len(kept) - _GIT_DETAIL_LINES
    kept = kept[max(0, start) :][:_GIT_DETAIL_LINES]
    detail = "; ".join(kept or lines[-1:]) or f"git exited with status {exc.status}"
    return redact_url(detail)


def _run(repo: git.Repo, *args: str, **kwargs: Any) -> str:
    out: str = repo.git.execute(
        ["git", *_SAFE_GIT, *args], env=GIT_ENV, kill_after_timeout=GIT_TIMEOUT, **kwargs
    )
    return out


@contextmanager
def _locked(cache_dir: Path, key: str) -> Iterator[None]:
    """Serialize git operations on one source repository across worker processes."""
    name = hashlib.sha1(key.encode()).hexdigest()[:16]
    with locked(cache_dir / "locks" / f"{name}.lock"):
        yield


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:60] or "project"


class Workspace:
    """A worktree on the fix branch of one bug; remove it with `close()`."""

    def __init__(self, base: Base, path: Path, branch: str) -> None:
        self.source = base.repo
        self.path = path
        self.branch = branch
        self.base_branch = base.branch
        #: The remote name or URL the fix branch is pushed to; None when there is none.
        self.push_to = base.push_to
        #: Worktree paths kept out of every commit (what preparing a toolchain created there).
        self.ignored: tuple[str, ...] = ()
        self.repo = git.Repo(path)
        self.base_commit = self.repo.head.commit.hexsha

    @classmethod
    def open(cls, src: RepoSource, bug_id: int, cache_dir: Path) -> Workspace:
        """Make the worktree; WorkspaceError names what failed (clone, fetch, branch)."""
        cache_dir = cache_dir.resolve()
        base = _base(src, cache_dir)
        branch = f"{BRANCH_PREFIX}{bug_id}"
        if branch == base.branch:
            raise WorkspaceError(f"refusing to work on the default branch {base.branch}")
        path = (
            cache_dir / "worktrees" / f"{_slug(src.project_id)}-bug{bug_id}-{uuid.uuid4().hex[:8]}"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(cache_dir, str(base.repo.git_dir)):
            _drop_stale_worktrees(base.repo, branch, cache_dir)
            try:
                _run(base.repo, "worktree", "add", "--no-track", "-B", branch, str(path), base.ref)
            except git.GitCommandError as exc:
                raise WorkspaceError(
                    f"could not create worktree on {branch} from {base.ref}: {_git_error(exc)}"
                ) from exc
        return cls(base, path, branch)

    @property
    def source_path(self) -> str:
        """The repository the fix branch lives in (the user's checkout or the cache clone)."""
        return str(self.source.working_tree_dir or self.source.git_dir)

    def reset(self) -> None:
        """Back to the base commit, dropping every change and every file git does not track
        (ignored ones and nested repositories too: a run may have planted them)."""
        self._git("reset", "-q", "--hard", self.base_commit)
        self._git("clean", "-q", "-ffdx")

    def write(self, relative: str, text: str) -> None:
        """Write the worktree file `relative`, never through a symlink that leads out of it."""
        root = self.path.resolve()
        folder = (root / relative).parent.resolve()
        if folder != root and root not in folder.parents:
            raise WorkspaceError(f"refusing to write {relative}: it leads out of the worktree")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / Path(relative).name
        if target.is_symlink():
            target.unlink()
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        with os.fdopen(os.open(target, flags, 0o644), "w", encoding="utf-8") as out:
            out.write(text)

    def staged_diff(self) -> tuple[list[str], str]:
        """Stage everything but `ignored`; return (changed files, diff against the base commit)."""
        # A path the project's .gitignore already ignores must not be named: git refuses it.
        excluded = [f":(exclude){p}" for p in self.ignored if not self._git_ignores(p)]
        self._git("add", "-A", "--", ".", *excluded)
        names = self._git("diff", "--cached", "--name-only", self.base_commit)
        diff = self._git("diff", "--cached", self.base_commit)
        return [n for n in names.splitlines() if n], diff

    def _git_ignores(self, path: str) -> bool:
        try:
            _run(self.repo, "check-ignore", "-q", "--", path)
        except git.GitCommandError:
            return False
        return True

    def commit(self, message: str, stage: bool = True) -> str:
        """Commit what is staged, after staging every change unless `stage` is False (a repair
        commits what `staged_diff` showed before its tests ran)."""
        if stage:
            self.staged_diff()
        self._git("commit", "-q", "--no-verify", "-m", message)
        return self.repo.head.commit.hexsha

    def _git(self, command: str, *args: str) -> str:
        """Run git in the worktree; a failure ends the repair with git's own words."""
        try:
            return _run(self.repo, command, *args)
        except git.GitCommandError as exc:
            raise WorkspaceError(f"git {command} failed: {_git_error(exc)}") from exc

    def push(self) -> str:
        """Push the fix branch to `push_to` (never forced, never the default branch); where to."""
        if self.branch == self.base_branch or not self.branch.startswith(BRANCH_PREFIX):
            raise PushFailed(f"push failed: refusing to push {self.branch}")
        if self.push_to is None:
            raise PushFailed(f"push failed: {self.source_path} has no remote to push to")
        refspec = f"refs/heads/{self.branch}:refs/heads/{self.branch}"
        try:
            _run(self.repo, "push", "--", self.push_to, refspec)
        except git.GitCommandError as exc:
            raise PushFailed(f"push failed: {_git_error(exc)}") from exc
        return f"{redact_url(self.push_to)} {self.branch}"

    def close(self) -> None:
        """Remove the worktree (the branch and its commit stay in the source repository)."""
        try:
            _run(self.source, "worktree", "remove", "--force", str(self.path))
        except git.GitCommandError:
            shutil.rmtree(self.path, ignore_errors=True)
            _run(self.source, "worktree", "prune")


def _base(src: RepoSource, cache_dir: Path) -> Base:
    if src.local_path and Path(src.local_path).is_dir():
        return _local_base(src, cache_dir)
    if not src.repo_url:
        raise WorkspaceError(f"local_path {src.local_path} does not exist and no repo_url is set")
    repo = _clone_or_fetch(src, cache_dir)
    branch = src.default_branch or _default_branch(repo, "origin")
    ref = f"refs/remotes/origin/{branch}"
    if not _exists(repo, ref):
        raise WorkspaceError(f"default branch {branch} not found on {redact_url(src.repo_url)}")
    return Base(repo, ref, branch, "origin")


def _local_base(src: RepoSource, cache_dir: Path) -> Base:
    """The user's checkout, its remote fetched: origin/<default branch>, else the local one."""
    try:
        repo = git.Repo(src.local_path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise WorkspaceError(f"local_path {src.local_path} is not a git repository") from exc
    remote, matched = _remote_for(repo, src.repo_url)
    if src.repo_url and not matched:
        raise WorkspaceError(_not_a_remote(repo, src))
    if remote is not None:
        _fetch(repo, remote, cache_dir)
    branch = src.default_branch or _default_branch(repo, remote)
    refs = ([f"refs/remotes/{remote}/{branch}"] if remote else []) + [f"refs/heads/{branch}"]
    ref = next((r for r in refs if _exists(repo, r)), None)
    if ref is None:
        where = f" nor on its remote {remote}" if remote else ""
        raise WorkspaceError(f"default branch {branch} not found in {src.local_path}{where}")
    return Base(repo, ref, branch, remote)


def _remote_for(repo: git.Repo, url: str | None) -> tuple[str | None, bool]:
    """(the remote whose URL is `url`, True), else ("origin" if there is one, False)."""
    if url:
        wanted = _canonical(url, None)
        here = repo.working_tree_dir
        for remote in repo.remotes:
            if any(_canonical(u, here) == wanted for u in remote.urls):
                return remote.name, True
    names = {remote.name for remote in repo.remotes}
    return ("origin" if "origin" in names else None), False


def _not_a_remote(repo: git.Repo, src: RepoSource) -> str:
    """Why a repo_url naming no remote of the checkout is refused, naming both sides."""
    remotes = ", ".join(f"{r.name} {redact_url(u)}" for r in repo.remotes for u in r.urls)
    have = f"its remotes are {remotes}" if remotes else "it has no remote"
    return (
        f"repo_url {redact_url(src.repo_url or '')} is not a remote of local_path "
        f"{src.local_path} ({have}): a fix is pushed only to the repository it was made from; "
        "set repo_url to one of those remotes, or leave it empty"
    )


def _canonical(url: str, base_dir: str | os.PathLike[str] | None) -> str:
    """A URL or path in one spelling: no credentials, no `.git` or trailing slash, paths real
    (a `file://` URL is its path), scheme and host in lower case."""
    text = redact_url(url.strip()).rstrip("/")
    if text[:7].lower() == "file://":
        text = text[7:]
    if "://" in text:
        scheme, _, rest = text.partition("://")
        host, slash, path = rest.partition("/")
        text = f"{scheme.lower()}://{host.lower()}{slash}{path}"
    elif _SCP_LIKE.match(text):
        host, _, path = text.partition(":")
        text = f"{host.lower()}:{path}"
    else:
        text = os.path.realpath(os.path.join(base_dir or os.getcwd(), text))
    return text.removesuffix(".git").rstrip("/")


def _fetch(repo: git.Repo, remote: str, cache_dir: Path) -> None:
    """Fetch `remote` into the user's repository: only its remote-tracking refs move."""
    with _locked(cache_dir, str(repo.git_dir)):
        try:
            _run(repo, "fetch", "--quiet", "--no-tags", "--", remote)
        except git.GitCommandError as exc:
            url = next(iter(repo.remote(remote).urls), remote)
            raise WorkspaceError(
                f"fetch failed: {remote} ({redact_url(url)}): {_git_error(exc)}"
            ) from exc


def _exists(repo: git.Repo, ref: str) -> bool:
    try:
        repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
    except git.GitCommandError:
        return False
    return True


def _clone_or_fetch(src: RepoSource, cache_dir: Path) -> git.Repo:
    url = src.repo_url or ""
    if url.startswith(("-", "ext::")) or "::" in url.split("/", 1)[0]:
        raise WorkspaceError(f"clone failed: unsupported repository URL {redact_url(url)}")
    target = cache_dir / "clones" / _slug(src.project_id)
    with _locked(cache_dir, str(target)):
        try:
            if (target / ".git").is_dir():
                repo = git.Repo(target)
                if repo.remote("origin").url != url:
                    _run(repo, "remote", "set-url", "origin", url)
                _run(repo, "fetch", "--prune", "origin")
                return repo
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            git.Git(str(target.parent)).execute(
                ["git", "clone", "--no-checkout", "--", url, str(target)],
                env=GIT_ENV,
                kill_after_timeout=GIT_TIMEOUT,
            )
            return git.Repo(target)
        except git.GitCommandError as exc:
            raise WorkspaceError(f"clone failed: {redact_url(url)}: {_git_error(exc)}") from exc


def _default_branch(repo: git.Repo, remote: str | None) -> str:
    """The remote's HEAD, else main/master, else the branch checked out."""
    if remote is not None:
        try:
            ref = repo.git.symbolic_ref("--short", f"refs/remotes/{remote}/HEAD")
            return str(ref).removeprefix(f"{remote}/")
        except git.GitCommandError:
            pass
    names = {h.name for h in repo.heads} | {
        r.remote_head for r in repo.refs if isinstance(r, git.RemoteReference)
    }
    for name in ("main", "master"):
        if name in names:
            return name
    try:
        return repo.active_branch.name
    except TypeError as exc:
        raise WorkspaceError("cannot tell the default branch: set default_branch") from exc


def _drop_stale_worktrees(repo: git.Repo, branch: str, cache_dir: Path) -> None:
    """Free `branch` from worktrees a dead worker left in our cache (never the user's)."""
    _run(repo, "worktree", "prune")
    current: Path | None = None
    for line in _run(repo, "worktree", "list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            current = Path(line.split(" ", 1)[1])
        elif (
            line == f"branch refs/heads/{branch}" and current and current.is_relative_to(cache_dir)
        ):
            _run(repo, "worktree", "remove", "--force", str(current))
