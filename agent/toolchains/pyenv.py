"""The Python interpreter a project's tests run on: the user's own virtualenv, else one we build.

A virtualenv in the user's checkout (`local_path/.venv` or `local_path/venv`) is used as it is
when it can import what the runner needs; nothing is ever installed into it. Otherwise a
virtualenv is built once per committed manifest set (`requirements*.txt`, `requirements/*.txt`,
`pyproject.toml`'s dependencies and test/dev extras, `setup.cfg`'s install_requires), with `uv`
when it is on PATH and `venv` + pip otherwise. Lines naming the project itself (`-e .`) are left
out: the code under test always comes from the worktree, put first on PYTHONPATH by the caller.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.toolchains.base import PrepareContext
from agent.toolchains.cache import (
    build_once,
    committed,
    committed_files,
    env_dir,
    env_key,
    relocate,
    run_checked,
)

_REQUIREMENTS = re.compile(
    r"^(?:[^/]*requirements[^/]*|requirements/[^/]+|[^/]*constraints[^/]*)\.txt$"
)
_LOCAL_LINE = re.compile(r"^\s*(?:-e\s+|--editable\s+)?(?:\.{1,2}(?:[/\[\s]|$)|/|file:)")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
#: Extras and dependency groups installed besides the main dependencies.
_TEST_GROUPS = frozenset({"test", "tests", "testing", "dev", "develop", "development"})
_DROP_VARS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_USER", "PIP_TARGET", "PIP_PREFIX")


@dataclass(frozen=True)
class PythonEnv:
    python: Path
    root: Path
    built: bool = False
    user: bool = False


def base_python() -> str:
    """The interpreter new virtualenvs are made from (the one Log Center itself is based on)."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


def python_env(
    ctx: PrepareContext, worktree: Path, local_path: Path | None, needs: tuple[str, ...]
) -> PythonEnv:
    """The user's virtualenv if it imports `needs`, else the project's env from the cache."""
    user = user_venv(local_path)
    if user is not None and importable(ctx, user, needs):
        return PythonEnv(user, user.parent.parent, user=True)
    return project_env(ctx, worktree, needs)


def user_venv(local_path: Path | None) -> Path | None:
    """`local_path`'s own virtualenv interpreter (not resolved: a venv is found by its path)."""
    if local_path is None:
        return None
    for name in (".venv", "venv"):
        python = local_path / name / "bin" / "python"
        if python.is_file() and (local_path / name / "pyvenv.cfg").is_file():
            return python
    return None


def importable(ctx: PrepareContext, python: Path, modules: Iterable[str]) -> bool:
    """Whether `python` can import every module of `modules`."""
    names = list(modules)
    if not names:
        return True
    env = build_env(ctx.env)
    code, _ = ctx.run([str(python), "-c", f"import {', '.join(names)}"], python.parent, env, 60)
    return code == 0


def project_env(ctx: PrepareContext, worktree: Path, needs: tuple[str, ...]) -> PythonEnv:
    """The env built from the manifests committed at `ctx.commit`; built once, then reused."""
    paths = [p for p in committed_files(worktree, ctx.commit) if _is_manifest(p)]
    files = committed(worktree, ctx.commit, paths)
    version = ".".join(str(n) for n in sys.version_info[:2])
    final = env_dir(ctx, env_key(files, "python", version, *needs))
    built = build_once(final, lambda temp: _build(ctx, temp, final, files, needs))
    return PythonEnv(final / "bin" / "python", final, built=built)


def _is_manifest(path: str) -> bool:
    return path in ("pyproject.toml", "setup.cfg") or bool(_REQUIREMENTS.match(path))


def build_env(base: Mapping[str, str]) -> dict[str, str]:
    """`base` without variables that would point pip or Python at another environment."""
    env = {k: v for k, v in base.items() if k not in _DROP_VARS}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _build(
    ctx: PrepareContext, temp: Path, final: Path, files: Mapping[str, bytes], needs: tuple[str, ...]
) -> None:
    manifest = temp / "manifest"
    for name, content in files.items():
        target = manifest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_without_local_lines(content) if name.endswith(".txt") else content)
    req_files = [n for n in files if _REQUIREMENTS.match(n) and "constraints" not in n]
    specs = declared(files)
    listed = {_spec_name(s) for s in specs} | set(_requirement_names(files))
    specs += [n for n in needs if _norm(n) not in listed]
    args = [a for f in req_files for a in ("-r", f)] + specs
    installer = _install(ctx, temp, manifest, args)
    relocate(temp / "bin", temp, final)
    about = {"manifests": sorted(files), "installed": args, "installer": installer}
    (temp / "logcenter-env.json").write_text(json.dumps(about, indent=2), encoding="utf-8")


def _install(ctx: PrepareContext, temp: Path, manifest: Path, args: list[str]) -> str:
    """Make a virtualenv at `temp` and install `args` (run from `manifest`); the installer."""
    env = build_env(ctx.env)
    python = str(temp / "bin" / "python")
    what = "installing the project's dependencies"
    uv = shutil.which("uv", path=ctx.env.get("PATH"))
    if uv:
        venv = [uv, "venv", "-q", "--allow-existing", "--python", base_python(), str(temp)]
        run_checked(ctx, venv, temp, env, "creating the project's virtualenv")
        if args:
            run_checked(ctx, [uv, "pip", "install", "--python", python, *args], manifest, env, what)
        return "uv"
    venv = [base_python(), "-m", "venv", *([] if args else ["--without-pip"]), str(temp)]
    run_checked(ctx, venv, temp, env, "creating the project's virtualenv")
    if args:
        run_checked(ctx, [python, "-m", "pip", "install", *args], manifest, env, what)
    return "pip"


def declared(files: Mapping[str, bytes]) -> list[str]:
    """Requirements declared in pyproject.toml and setup.cfg: main ones and test/dev extras."""
    specs: list[str] = []
    if "pyproject.toml" in files:
        specs += _pyproject_specs(files["pyproject.toml"])
    if "setup.cfg" in files:
        specs += _setup_cfg_specs(files["setup.cfg"])
    return [s for s in dict.fromkeys(specs) if s.strip()]


def _pyproject_specs(content: bytes) -> list[str]:
    try:
        data = tomllib.loads(content.decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError:
        return []
    project = data.get("project", {})
    own = _norm(str(project.get("name", "")))
    groups: dict[str, list[object]] = {
        **project.get("optional-dependencies", {}),
        **data.get("dependency-groups", {}),
    }
    specs: list[object] = list(project.get("dependencies", []))
    for name, items in groups.items():
        if name.lower() in _TEST_GROUPS:
            specs += items
    return [s for s in specs if isinstance(s, str) and _spec_name(s) != own]


def _setup_cfg_specs(content: bytes) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(content.decode("utf-8", errors="replace"))
    except configparser.Error:
        return []
    own = _norm(parser.get("metadata", "name", fallback=""))
    values = [parser.get("options", "install_requires", fallback="")]
    if parser.has_section("options.extras_require"):
        for name, value in parser.items("options.extras_require"):
            if name.lower() in _TEST_GROUPS:
                values.append(value)
    lines = [line.strip() for value in values for line in value.splitlines()]
    return [line for line in lines if line and _spec_name(line) != own]


def _without_local_lines(content: bytes) -> bytes:
    """A requirements file minus the lines that install a local path (the project itself)."""
    lines = content.decode("utf-8", errors="replace").splitlines()
    return "\n".join(line for line in lines if not _LOCAL_LINE.match(line)).encode() + b"\n"


def _requirement_names(files: Mapping[str, bytes]) -> list[str]:
    names: list[str] = []
    for name, content in files.items():
        if _REQUIREMENTS.match(name):
            for line in content.decode("utf-8", errors="replace").splitlines():
                if not line.lstrip().startswith(("-", "#")):
                    names.append(_spec_name(line))
    return [n for n in names if n]


def _spec_name(spec: str) -> str:
    match = _NAME.match(spec)
    return _norm(match.group(1)) if match else ""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
