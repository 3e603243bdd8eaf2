"""Choosing a repository's toolchain: one table from language family to its detector.

Families are tried in the table's order, except that the family of the failing file goes first,
so a Django backend with a package.json for its assets is still a Python project when the bug is
in a .py file, and its frontend's bug goes to the Node toolchain.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from agent.toolchains import dart, golang, node, python
from agent.toolchains.base import Toolchain
from agent.toolchains.checkout import Checkout
from agent.toolchains.errors import ToolMissing

Detector = Callable[[Checkout, Path | None], Toolchain | None]
_JS = frozenset({".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".vue", ".svelte"})
FAMILIES: tuple[tuple[frozenset[str], Detector], ...] = (
    (frozenset({".py"}), python.detect),
    (_JS, node.detect),
    (frozenset({".go"}), golang.detect),
    (frozenset({".dart"}), dart.detect),
)


def detect(
    worktree: Path, local_path: Path | None = None, source_file: str | None = None
) -> Toolchain | None:
    """The toolchain of the repository in `worktree`, or None when nothing is recognised.

    `local_path` is the user's checkout (its virtualenv may be used); `source_file` is the
    repository path of the failing file, whose language family is tried first.
    """
    checkout = Checkout.scan(worktree)
    suffix = PurePosixPath(source_file or "").suffix
    ordered = sorted(FAMILIES, key=lambda family: suffix not in family[0])
    for _, find in ordered:
        found = find(checkout, local_path)
        if found is not None:
            return found
    return None


def missing_tool(toolchain: Toolchain, env: Mapping[str, str] | None = None) -> str | None:
    """The first executable the toolchain needs that is not on `env`'s PATH, or None."""
    path = (os.environ if env is None else env).get("PATH", os.defpath)
    return next((t for t in toolchain.required_tools() if shutil.which(t, path=path) is None), None)


def require_tools(toolchain: Toolchain, env: Mapping[str, str] | None = None) -> None:
    """Raise ToolMissing ("flutter is not installed on this worker ...") if a tool is missing."""
    tool = missing_tool(toolchain, env)
    if tool is not None:
        raise ToolMissing(tool, toolchain.name)


def with_test_command(toolchain: Toolchain, command: str | None) -> Toolchain:
    """A copy of `toolchain` whose suite command is the project's configured `command`."""
    configured = copy.copy(toolchain)
    configured.test_command = command or None
    return configured
