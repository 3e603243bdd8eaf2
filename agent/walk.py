"""Walking a bug along the workflow's legal moves to a target status.

The API is the authority (it answers 409 to an illegal move); its table only lets the agent
find the legal path, e.g. FIX_FAILED -> NEW -> VERIFYING when a finished bug is repaired again,
with a note on each step.
"""

from __future__ import annotations

from client.http import ApiClient
from store.models import Bug
from store.vocabulary import path_to


def walk(
    api: ApiClient, bug: Bug, target: str, reason: str | None = None, note: str | None = None
) -> Bug:
    """Move `bug` to `target` through legal steps; the reason goes on the last step only."""
    for step in path_to(bug.status, target):
        last = step == target
        bug = api.set_status(
            bug.id,
            step,
            failure_reason=reason if last else None,
            note=note if last or not reason else f"passed through: {reason}",
        )
    return bug
