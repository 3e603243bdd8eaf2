from __future__ import annotations

from pathlib import Path

import git as gitpython
import pytest

from agent.errors import PushFailed, WorkspaceError
from agent.workspace import RepoSource, Workspace, _remote_for
from tests.repos import Repos, git


def _fix(ws: Workspace) -> str:
    ops = ws.path / "calc" / "ops.py"
    ops.write_text(ops.read_text().replace("total / len(values)", "total / max(len(values), 1)"))
    return ws.commit("Fix bug #7: ZeroDivisionError in calc/ops.py")


def test_worktree_from_local_path_leaves_the_users_checkout_alone(
    repos: Repos, tmp_path: Path
) -> None:
    status_before = git(repos.checkout, "status", "--porcelain")
    ws = Workspace.open(RepoSource("calc", local_path=str(repos.checkout)), 7, tmp_path / "cache")
    try:
        assert ws.branch == "logcenter/fix-7" and ws.base_branch == "main"
        assert ws.path.is_relative_to((tmp_path / "cache").resolve())
        assert ws.base_commit == repos.base_commit
        assert not (ws.path / "notes.txt").exists()  # the user's untracked file stays theirs
        assert (ws.path / "README.md").read_text() == "# calc\n"
        commit = _fix(ws)
        assert git(ws.path, "log", "-1", "--format=%an <%ae>") == (
            "Log Center repair agent <repair-agent@logcenter.invalid>"
        )
    finally:
        ws.close()
    assert not ws.path.exists()
    assert git(repos.checkout, "status", "--porcelain") == status_before
    assert git(repos.checkout, "rev-parse", "main") == repos.base_commit
    assert git(repos.checkout, "rev-parse", "logcenter/fix-7") == commit
    assert "user.name" not in git(repos.checkout, "config", "--local", "--list")


def test_push_puts_the_fix_branch_on_origin_only(repos: Repos, tmp_path: Path) -> None:
    ws = Workspace.open(RepoSource("calc", local_path=str(repos.checkout)), 7, tmp_path / "cache")
    try:
        commit = _fix(ws)
        assert ws.push_to == "origin"
        assert ws.push() == "origin logcenter/fix-7"
    finally:
        ws.close()
    assert git(repos.origin, "rev-parse", "logcenter/fix-7") == commit
    assert git(repos.origin, "rev-parse", "main") == repos.base_commit


def test_rejected_push_is_reported_not_forced(repos: Repos, tmp_path: Path) -> None:
    # Someone else's commit already on origin's fix branch: our push is not a fast-forward.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repos.origin), str(other))
    git(other, "checkout", "-q", "-b", "logcenter/fix-7")
    (other / "x.txt").write_text("x\n")
    git(other, "add", "x.txt")
    git(other, "commit", "-q", "-m", "other work")
    git(other, "push", "-q", "origin", "logcenter/fix-7")
    theirs = git(other, "rev-parse", "HEAD")
    ws = Workspace.open(RepoSource("calc", local_path=str(repos.checkout)), 7, tmp_path / "cache")
    try:
        _fix(ws)
        with pytest.raises(PushFailed, match="push failed"):
            ws.push()
    finally:
        ws.close()
    assert git(repos.origin, "rev-parse", "logcenter/fix-7") == theirs


def test_clone_from_repo_url_into_the_cache_and_fetch_again(repos: Repos, tmp_path: Path) -> None:
    source = RepoSource("calc", repo_url=str(repos.origin))
    for attempt in range(2):  # the second repair reuses (fetches) the cached clone
        ws = Workspace.open(source, 7, tmp_path / "cache")
        try:
            assert ws.base_branch == "main" and ws.base_commit == repos.base_commit
            if attempt == 0:
                _fix(ws)
                ws.push()
        finally:
            ws.close()
    assert (tmp_path / "cache" / "clones" / "calc").is_dir()
    assert "logcenter/fix-7" in repos.branches(repos.origin)


def test_clone_failure_names_the_url_without_credentials(tmp_path: Path) -> None:
    source = RepoSource("calc", repo_url="https://bob:s3cret-token@127.0.0.1:9/none.git")
    with pytest.raises(WorkspaceError) as info:
        Workspace.open(source, 7, tmp_path / "cache")
    assert info.value.reason.startswith("clone failed: https://127.0.0.1:9/none.git")
    assert "s3cret-token" not in info.value.reason


def test_ssh_clone_failure_keeps_what_ssh_said(tmp_path: Path) -> None:
    source = RepoSource("calc", repo_url="ssh://git@nonexistent.invalid/x.git")
    with pytest.raises(WorkspaceError) as info:
        Workspace.open(source, 7, tmp_path / "cache")
    reason = info.value.reason
    assert reason.startswith("clone failed: ssh://nonexistent.invalid/x.git: ssh: ")
    assert "Could not resolve hostname nonexistent.invalid" in reason
    assert "fatal: Could not read from remote repository." in reason
    assert "and the repository exists" not in reason and "Cloning into" not in reason


def test_a_stale_worktree_of_a_dead_worker_is_replaced(repos: Repos, tmp_path: Path) -> None:
    source = RepoSource("calc", local_path=str(repos.checkout))
    stale = Workspace.open(source, 7, tmp_path / "cache")  # never closed: its worker "died"
    fresh = Workspace.open(source, 7, tmp_path / "cache")
    try:
        assert not stale.path.exists() and fresh.branch == "logcenter/fix-7"
    finally:
        fresh.close()


def test_reset_drops_changes_and_untracked_files(repos: Repos, tmp_path: Path) -> None:
    ws = Workspace.open(RepoSource("calc", local_path=str(repos.checkout)), 7, tmp_path / "cache")
    try:
        (ws.path / "calc" / "ops.py").write_text("broken\n")
        (ws.path / "new.py").write_text("x = 1\n")
        assert ws.staged_diff()[0] == ["calc/ops.py", "new.py"]
        ws.reset()
        assert ws.staged_diff() == ([], "")
    finally:
        ws.close()


def test_a_git_failure_in_the_worktree_says_what_git_said(repos: Repos, tmp_path: Path) -> None:
    ws = Workspace.open(RepoSource("calc", local_path=str(repos.checkout)), 7, tmp_path / "cache")
    try:
        (ws.path / "new.py").write_text("x = 1\n")
        lock = Path(ws.repo.git_dir) / "index.lock"  # as a git killed mid-command leaves it
        lock.write_text("")
        with pytest.raises(WorkspaceError) as failed:
            ws.staged_diff()
        assert str(failed.value).startswith("git add failed: fatal: Unable to create")
        assert "index.lock': File exists" in str(failed.value)
        lock.unlink()
        assert ws.staged_diff()[0] == ["new.py"]
    finally:
        ws.close()


def test_worktree_starts_from_origins_newest_commit(repos: Repos, tmp_path: Path) -> None:
    # Someone pushed to main since the user last pulled: their local main is stale.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repos.origin), str(other))
    (other / "CHANGES.md").write_text("newer\n")
    git(other, "add", "CHANGES.md")
    git(other, "commit", "-q", "-m", "newer work")
    git(other, "push", "-q", "origin", "main")
    newest = git(other, "rev-parse", "HEAD")
    ws = Workspace.open(RepoSource("calc", local_path=str(repos.checkout)), 7, tmp_path / "cache")
    try:
        assert ws.base_commit == newest and (ws.path / "CHANGES.md").is_file()
    finally:
        ws.close()
    # Only the remote-tracking ref moved: the user's branch and configuration are as they were.
    assert git(repos.checkout, "rev-parse", "main") == repos.base_commit
    assert git(repos.checkout, "rev-parse", "origin/main") == newest
    assert "branch.logcenter/fix-7" not in git(repos.checkout, "config", "--local", "--list")


def test_unreachable_origin_fails_the_fetch_by_name(repos: Repos, tmp_path: Path) -> None:
    git(repos.checkout, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(WorkspaceError) as info:
        Workspace.open(RepoSource("calc", local_path=str(repos.checkout)), 7, tmp_path / "cache")
    assert info.value.reason.startswith(f"fetch failed: origin ({tmp_path / 'gone.git'}): ")
    assert "does not appear to be a git repository" in info.value.reason


def test_checkout_without_remote_keeps_the_branch_local(tmp_path: Path) -> None:
    local = tmp_path / "solo"
    local.mkdir()
    git(local, "init", "-q", "-b", "trunk")
    (local / "a.txt").write_text("a\n")
    git(local, "add", "a.txt")
    git(local, "commit", "-q", "-m", "a")
    ws = Workspace.open(RepoSource("solo", local_path=str(local)), 7, tmp_path / "cache")
    try:
        assert ws.base_branch == "trunk" and ws.push_to is None
        assert ws.source_path == str(local)
        (ws.path / "a.txt").write_text("b\n")
        commit = ws.commit("change a")
        with pytest.raises(PushFailed, match="has no remote to push to"):
            ws.push()
    finally:
        ws.close()
    assert git(local, "rev-parse", "logcenter/fix-7") == commit


def test_push_goes_to_the_remote_repo_url_names(repos: Repos, tmp_path: Path) -> None:
    # repo_url names origin by another spelling: origin is fetched and pushed to.
    spelled = f"file://{repos.origin}/"
    source = RepoSource("calc", local_path=str(repos.checkout), repo_url=spelled)
    ws = Workspace.open(source, 7, tmp_path / "cache")
    try:
        assert ws.push_to == "origin"
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("spelled", "remote"),
    [
        ("file://{origin}/", "origin"),
        ("{origin}/", "origin"),
        ("{bare}", "origin"),
        ("{bare}.git/", "origin"),
        ("HTTPS://Git.Example.COM/Team/calc", "mirror"),
        ("https://git.example.com/Team/calc.git/", "mirror"),
        ("git@GitHub.com:team/calc", "github"),
        ("{bare}-fork.git", None),
        ("https://git.example.com/team/calc", None),  # a path's case matters
        ("https://git.example.com/Team/calc2", None),
        ("ssh://git.example.com/Team/calc", None),
        ("git@github.com:team/calc-fork", None),
    ],
)
def test_repo_url_names_a_remote_in_any_spelling(
    repos: Repos, spelled: str, remote: str | None
) -> None:
    git(repos.checkout, "remote", "add", "mirror", "https://git.example.com/Team/calc.git")
    git(repos.checkout, "remote", "add", "github", "git@github.com:team/calc.git")
    url = spelled.format(origin=repos.origin, bare=str(repos.origin).removesuffix(".git"))
    found = _remote_for(gitpython.Repo(repos.checkout), url)
    assert found == ((remote, True) if remote else ("origin", False))


def test_a_repo_url_naming_no_remote_of_the_checkout_is_refused(
    repos: Repos, tmp_path: Path
) -> None:
    fork = tmp_path / "fork.git"
    git(tmp_path, "clone", "-q", "--bare", str(repos.origin), str(fork))
    source = RepoSource("calc", local_path=str(repos.checkout), repo_url=str(fork))
    with pytest.raises(WorkspaceError) as info:
        Workspace.open(source, 8, tmp_path / "cache")
    assert info.value.reason == (
        f"repo_url {fork} is not a remote of local_path {repos.checkout} (its remotes are "
        f"origin {repos.origin}): a fix is pushed only to the repository it was made from; "
        "set repo_url to one of those remotes, or leave it empty"
    )
    assert "logcenter/fix-8" not in repos.branches(repos.checkout) + repos.branches(fork)


def test_ignored_paths_stay_out_of_commits(repos: Repos, tmp_path: Path) -> None:
    ws = Workspace.open(RepoSource("calc", local_path=str(repos.checkout)), 7, tmp_path / "cache")
    try:
        modules = tmp_path / "modules"
        modules.mkdir()
        (ws.path / "node_modules").symlink_to(modules, target_is_directory=True)
        (ws.path / ".dart_tool").mkdir()
        (ws.path / ".dart_tool" / "config.json").write_text("{}")
        ws.ignored = ("node_modules", ".dart_tool")
        _fix(ws)
        files = git(ws.path, "show", "--name-only", "--format=", "HEAD").splitlines()
        assert files == ["calc/ops.py"]
        # Also when the project's .gitignore names one of them (git refuses such a pathspec).
        (ws.path / ".gitignore").write_text("node_modules\n")
        changed, _ = ws.staged_diff()
        assert changed == [".gitignore", "calc/ops.py"]
    finally:
        ws.close()


def test_what_a_run_leaves_in_the_worktree_is_not_trusted(repos: Repos, tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("private key\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    ws = Workspace.open(RepoSource("calc", local_path=str(repos.checkout)), 7, tmp_path / "cache")
    try:
        ops = ws.path / "calc" / "ops.py"
        ops.write_text(ops.read_text().replace("/ len(values)", "/ max(len(values), 1)"))
        changed, _ = ws.staged_diff()
        # What a sandboxed run may plant: links to secrets, a nested repository, changed files.
        (ws.path / "tests" / "test_repro.py").symlink_to(secret)
        (ws.path / "out").symlink_to(outside, target_is_directory=True)
        git(ws.path / "tests", "init", "-q", "nested")
        (ws.path / "README.md").write_text("# changed by a test run\n")
        ws.write("tests/test_repro.py", "def test_x():\n    pass\n")
        assert secret.read_text() == "private key\n"
        assert not (ws.path / "tests" / "test_repro.py").is_symlink()
        with pytest.raises(WorkspaceError, match="leads out of the worktree"):
            ws.write("out/evil.py", "x = 1\n")
        assert list(outside.iterdir()) == []
        # The commit holds what was staged before the run, not what the run changed.
        commit = ws.commit("fix", stage=False)
        assert git(ws.path, "show", "--name-only", "--format=", commit).splitlines() == changed
        ws.reset()
        assert git(ws.path, "status", "--porcelain", "--ignored") == ""
        assert not (ws.path / "out").exists() and not (ws.path / "tests" / "nested").exists()
    finally:
        ws.close()
