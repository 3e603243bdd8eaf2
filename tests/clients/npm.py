"""The JavaScript tools the client tests use (esbuild, the TypeScript compiler, axios), pinned
and installed once into ~/.cache/logcenter-test-npm (LOGCENTER_TEST_NPM_DIR to move it); later
sessions reuse them without touching the registry."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PINNED = {"esbuild": "0.28.2", "typescript": "7.0.2", "axios": "1.21.1"}


def npm_dir() -> Path:
    default = Path.home() / ".cache" / "logcenter-test-npm"
    return Path(os.environ.get("LOGCENTER_TEST_NPM_DIR", default))


def npm_tools() -> Path:
    """The directory whose node_modules holds PINNED (installed now if it does not yet)."""
    if not (shutil.which("node") and shutil.which("npm")):
        why = "node and npm (20 or later) run the TypeScript client: make test-deps installs them"
        if os.environ.get("CI"):
            pytest.fail(why)  # in CI a missing tool is a failure, not a skip
        pytest.skip(why)
    root = npm_dir()
    root.mkdir(parents=True, exist_ok=True)
    stamp = root / "installed.json"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one install, however many sessions ask at once
        if stamp.exists() and json.loads(stamp.read_text()) == PINNED:
            return root
        (root / "package.json").write_text('{"private": true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--cache", str(root / "downloads")]
            + [f"{name}@{version}" for name, version in PINNED.items()],
            cwd=root,
            check=True,
            capture_output=True,
            timeout=600,
        )
        stamp.write_text(json.dumps(PINNED))
    return root
