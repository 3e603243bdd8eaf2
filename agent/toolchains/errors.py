"""Errors of the toolchain seam. Both are repair failures: their text becomes the bug's
failure_reason, so each says what is missing or which command failed and how."""

from __future__ import annotations

from agent.errors import RepairFailure


class ToolMissing(RepairFailure):
    """An executable the project's toolchain needs is not on this worker's PATH."""

    def __init__(self, tool: str, toolchain: str) -> None:
        super().__init__(f"{tool} is not installed on this worker (needed by {toolchain} projects)")
        self.tool = tool


class PrepareFailed(RepairFailure):
    """Building the project's environment failed; the reason ends with the tool's last lines."""
