"""Errors of the sandbox layer: it cannot run at all, or it could not be set up for one run."""

from __future__ import annotations


class SandboxUnavailable(RuntimeError):
    """No sandbox works on this machine; the message says why and what to do."""


class SandboxFailed(RuntimeError):
    """The sandbox could not be set up for this run (the command never started)."""
