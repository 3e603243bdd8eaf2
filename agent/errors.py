"""Errors of the repair agent. Each carries the `failure_reason` a person reads on the bug."""

from __future__ import annotations


class RepairFailure(Exception):
    """A repair that cannot go on; `reason` is written to the bug as its failure_reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoRepository(RepairFailure):
    """The project has neither a repo_url nor a local_path the worker can use."""


class WorkspaceError(RepairFailure):
    """Cloning, fetching or making the worktree failed."""


class LLMError(RepairFailure):
    """The model could not be reached, timed out or answered with an error."""


class EditError(RepairFailure):
    """A SEARCH/REPLACE block could not be parsed or applied."""


class EditOutsideRepo(EditError):
    """A block names a path that resolves outside the repository; always refused."""


class PushFailed(RepairFailure):
    """The fix branch could not be pushed to origin."""


class SandboxError(RepairFailure):
    """No sandbox works on this worker, or the sandbox could not be set up for a command: the
    worker's fault, never the tests'."""
