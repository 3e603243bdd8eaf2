"""What a repair's commands may touch, as `Confinement` decides it (bubblewrap enforces it: see
test_isolation.py and, end to end, test_repair_sandbox.py)."""

from __future__ import annotations

import subprocess
from contextlib import ExitStack
from pathlib import Path

import pytest

from agent.confinement import Confinement, _own_copies, reachable, redis_socket, sandboxed_env
from agent.isolation import Limits, RunResult, RunSpec
from agent.toolchains import Prepared
from config.settings import Settings
from tests.venvs import BASE_PYTHON


class Recorder:
    """A sandbox that records the specs it is asked to run."""

    name = "recorder"

    def __init__(self) -> None:
        self.specs: list[RunSpec] = []

    def available(self) -> str | None:
        return None

    def run(self, spec: RunSpec) -> RunResult:
        self.specs.append(spec)
        return RunResult(spec.text(), 0, "ok\n", False, 0.1, isolation="recorder")


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        worker_cache_dir=tmp_path / "data" / "worktrees",
        test_timeout=42,
        repair_memory_bytes=512 * 1024 * 1024,
        _env_file=None,
        **values,
    )  # type: ignore[call-arg]


def test_a_test_run_sees_its_environment_and_nothing_of_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    sandbox = Recorder()
    s = settings(tmp_path, redis_url=f"unix://{tmp_path}/redis/redis.sock?db=0")
    worktree = tmp_path / "data" / "worktrees" / "worktrees" / "calc-bug1"
    worktree.mkdir(parents=True)
    env_root = tmp_path / "data" / "worktrees" / "envs" / "calc" / "abc"
    prepared = Prepared({}, root=env_root, read_only=(env_root,))
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "XDG_CONFIG_HOME": "/root/.config"}
    result = Confinement(sandbox, s, worktree, "calc").run("pytest -q", env, prepared)
    [spec] = sandbox.specs
    assert result.passed and spec.command == "pytest -q" and spec.worktree == worktree
    assert spec.env == {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp"}
    assert not spec.network and spec.writable == [] and env_root in spec.read_only
    assert {
        tmp_path / "home" / ".ssh",
        tmp_path / "home" / ".git-credentials",
        tmp_path / "home" / ".config",
        tmp_path / "data",
        tmp_path / "data" / "worktrees",
        tmp_path / "redis",
    } <= set(spec.hidden)
    assert spec.limits == Limits(42, 512 * 1024 * 1024, 256, 10 * 1024 * 1024)


def test_preparing_may_reach_the_registries_and_write_the_caches(tmp_path: Path) -> None:
    sandbox = Recorder()
    worktree = tmp_path / "wt"
    worktree.mkdir()
    run = Confinement(sandbox, settings(tmp_path), worktree, "calc/web").runner()
    npm = tmp_path / "npm-cache"
    code, output = run(
        ["true"], worktree, {"PATH": "/usr/bin:/bin", "npm_config_cache": str(npm)}, 9
    )
    [spec] = sandbox.specs
    assert (code, output) == (0, "ok\n") and spec.network and spec.cwd == worktree
    envs = (tmp_path / "data" / "worktrees" / "envs" / "calc_web").resolve()
    assert spec.writable == [envs, npm.resolve()] and envs.is_dir() and npm.is_dir()
    assert spec.limits.wall_time == 9


def test_a_linked_virtualenv_brings_its_checkout_and_interpreter(tmp_path: Path) -> None:
    venv = tmp_path / "venvs" / "calc"
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(venv, target_is_directory=True)
    found = reachable([checkout / ".venv" / "bin" / "python"], [tmp_path / "wt"])
    assert checkout in found and venv in found  # both under /tmp, private in the sandbox
    prefix = Path(BASE_PYTHON).resolve().parent.parent
    outside_tmp = not prefix.is_relative_to("/tmp")
    assert (prefix in found) == (outside_tmp and not _world_enterable(prefix))
    assert reachable([tmp_path / "wt" / "sub"], [tmp_path / "wt"]) == []  # mounted already
    assert reachable([Path("/usr/bin/env")]) == []  # the sandbox shows the host's /usr


def _world_enterable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [*path.parents, path])


def test_two_runs_never_share_a_writable_cache(tmp_path: Path) -> None:
    cache = tmp_path / "go-build"
    env = {"GOCACHE": str(cache), "PATH": "/usr/bin"}
    locks = tmp_path / "locks"
    with ExitStack() as first, ExitStack() as second:
        mine, env1 = _own_copies([cache], env, locks, first)
        theirs, env2 = _own_copies([cache], env, locks, second)
        assert mine == [cache] and env1 == env
        assert theirs == [tmp_path / "go-build-2"] and env2["GOCACHE"] == str(theirs[0])
    with ExitStack() as third:
        assert _own_copies([cache], env, locks, third)[0] == [cache]  # free again


def test_small_helpers() -> None:
    assert redis_socket("unix:///run/redis/redis.sock?db=2") == Path("/run/redis/redis.sock")
    assert redis_socket("redis://127.0.0.1:6379/0") is None
    assert sandboxed_env({"XDG_RUNTIME_DIR": "/run/user/0", "LANG": "C"}) == {
        "LANG": "C",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
    }
