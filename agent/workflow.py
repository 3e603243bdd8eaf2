"""Walking a bug along the workflow's legal moves to a target status.

The API is the authority (it answers 409 to an illegal move); its table only lets the agent
find the legal path, e.g. NEW -> VERIFYING -> PENDING_FIX -> FIXING -> FIX_FAILED when a repair
fails before it could start, with a note on each step saying why it was passed through.
"""

from __future__ import annotations

from collections import deque

from agent.client import ApiClient
from ingest.workflow import TRANSITIONS
from store.models import Bug, Status

#: Statuses in which a repair job is (or was) at work on the bug.
IN_PROGRESS = frozenset({Status.VERIFYING, Status.PENDING_FIX, Status.FIXING})


def path_to(current: str, target: str) -> list[str]:
    """The shortest list of statuses leading from `current` to `target` (empty if equal)."""
    previous: dict[str, str] = {}
    todo = deque([current])
    while todo:
        status = todo.popleft()
        if status == target:
            steps: list[str] = []
            while status != current:
                steps.append(status)
                status = previous[status]
            return steps[::-1]
        for nxt in TRANSITIONS.get(Status(status), ()):
            if nxt.value not in previous and nxt != current:
                previous[nxt.value] = status
                todo.append(nxt.value)
    raise ValueError(f"no legal path from {current} to {target}")


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
