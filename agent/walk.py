"""Walking a bug along the workflow's legal moves to a target status.

The API is the authority (it answers 409 to an illegal move); its table only lets the agent
find the legal path, e.g. NEW -> VERIFYING -> PENDING_FIX -> FIXING -> FIX_FAILED when a repair
fails before it could start, with a note on each step saying why it was passed through.
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
