"""Virtualenvs the repair tests run programs in, never Log Center's development venv.

`cached_venv` builds a virtualenv once per key under ~/.cache (CI keeps that folder between runs),
under a lock and renamed into place when complete, so concurrent sessions share one and never see
half of it. `installed_logcenter` is Log Center as the Dockerfile installs it (`pip install .`,
no test extras): a session venv of its own holding the package, built from the current sources,
on top of the cached dependencies.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Sequence
from pathlib import Path

from agent.toolchains.cache import locked
from bench import ROOT

CACHE = Path.home() / ".cache"
#: The interpreter Log Center's own venv is based on: new virtualenvs are made from it.
BASE_PYTHON = str(getattr(sys, "_base_executable", None) or sys.executable)
#: What `pip install .` takes from the source tree (pyproject's packages, its readme).
SOURCES = (
    "pyproject.toml",
    "README.md",
    "config",
    "store",
    "client",
    "ingest",
    "agent",
    "dashboards",
    "bench",
)


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def pip_install(venv: Path, *args: str) -> None:
    """`pip install args` into `venv` (which has no pip of its own), run by our pip."""
    command = [sys.executable, "-m", "pip", "--python", str(python_of(venv)), "install", "-q"]
    subprocess.run([*command, *args], check=True, capture_output=True, text=True)


def cached_venv(name: str, key: str, packages: Sequence[str]) -> Path:
    """A virtualenv ~/.cache/<name>/<key> with `packages` installed, built on first use."""
    final = CACHE / name / key
    if python_of(final).exists():
        return final
    with locked(final.with_name(f"{key}.lock")):
        if python_of(final).exists():
            return final
        temp = final.with_name(f".{key}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(temp)], check=True)
            if packages:
                pip_install(temp, *packages)
            os.rename(temp, final)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    return final


def installed_logcenter(workdir: Path) -> Path:
    """A virtualenv in `workdir` with Log Center installed from the current sources, non-editable
    and without test extras; its dependencies come from a cached venv keyed by pyproject.toml."""
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    deps = tomllib.loads(pyproject.decode())["project"]["dependencies"]
    key = hashlib.sha256(pyproject).hexdigest()[:16]
    shared = cached_venv("logcenter-test-worker-deps", key, [*deps, "setuptools>=69", "wheel"])
    src = workdir / "src"
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            src.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, src / name)
    venv = workdir / "venv"
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site_packages(venv) / "_logcenter_deps.pth").write_text(f"{site_packages(shared)}\n")
    pip_install(venv, "--no-deps", "--force-reinstall", "--no-build-isolation", str(src))
    return venv
