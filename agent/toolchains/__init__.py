"""Running a project's tests in its own toolchain: Python (pytest, Django, unittest), Node
(vitest, jest, mocha, node --test), Go and Dart/Flutter, never Log Center's own interpreter.

`detect()` picks the toolchain of a worktree; `prepare()` builds or reuses the project's
environment in the worker's cache; the commands, the test path of a reproduction and the output
readers follow the runner's conventions. See `base.Toolchain` for the contract.
"""

from __future__ import annotations

from agent.toolchains.base import PrepareContext, Prepared, Runner, Toolchain, run_subprocess
from agent.toolchains.detect import detect, missing_tool, require_tools, with_test_command
from agent.toolchains.errors import PrepareFailed, ToolMissing

__all__ = [
    "PrepareContext",
    "PrepareFailed",
    "Prepared",
    "Runner",
    "ToolMissing",
    "Toolchain",
    "detect",
    "missing_tool",
    "require_tools",
    "run_subprocess",
    "with_test_command",
]
