"""The domain's words, said once: statuses and their legal moves, status groups, facet fields,
sort keys and editable project fields.

The API, the stores, the agent and the dashboard all read these from here, so a new status or
field is added in one place. This module imports nothing of Log Center's and no framework.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum


class Status(StrEnum):
    NEW = "NEW"
    VERIFYING = "VERIFYING"
    CANNOT_REPRODUCE = "CANNOT_REPRODUCE"
    PENDING_FIX = "PENDING_FIX"
    FIXING = "FIXING"
    FIXED = "FIXED"
    VERIFIED = "VERIFIED"
    DEPLOYED = "DEPLOYED"
    FIX_FAILED = "FIX_FAILED"


S = Status

#: Every status, in workflow order (the order pages list them in).
STATUSES: tuple[Status, ...] = tuple(Status)

#: The workflow: status -> the statuses a bug may move to from it. A repair that fails before
#: a fix was tried (no repository, no toolchain, a missing tool, no sandbox) ends FIX_FAILED
#: straight from where the bug was: FIX_FAILED means "the repair failed, reason shown".
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    S.NEW: (S.VERIFYING, S.FIX_FAILED),
    S.VERIFYING: (S.PENDING_FIX, S.CANNOT_REPRODUCE, S.FIX_FAILED),
    S.PENDING_FIX: (S.FIXING, S.FIX_FAILED),
    S.FIXING: (S.FIXED, S.FIX_FAILED),
    S.FIXED: (S.VERIFIED, S.NEW),
    S.VERIFIED: (S.DEPLOYED, S.NEW),
    S.DEPLOYED: (S.NEW,),
    S.FIX_FAILED: (S.NEW, S.PENDING_FIX),
    S.CANNOT_REPRODUCE: (S.NEW,),
}

#: Who made a status move: the repair agent's moves are recorded as `by` this; every other
#: move to PENDING_FIX is a person asking for a repair.
AGENT = "agent"

#: Statuses from which a new occurrence reopens the bug as a regression.
REGRESSION_STATUSES = frozenset({S.FIXED, S.VERIFIED, S.DEPLOYED})
#: Statuses in which a repair job is (or was) at work on the bug.
IN_PROGRESS = frozenset({S.VERIFYING, S.PENDING_FIX, S.FIXING})
#: Statuses a repair starts over from: the bug is first reopened (NEW).
DONE = frozenset({S.FIX_FAILED, S.CANNOT_REPRODUCE, S.FIXED, S.VERIFIED, S.DEPLOYED})
#: A repair posts its verification report while VERIFYING, then moves on through PENDING_FIX
#: to FIXING: a new report in these statuses is not the end of the repair.
REPAIR_STEPS = frozenset({S.VERIFYING, S.PENDING_FIX})


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


#: Facets of bugs (keyword fields), in the order the bugs page shows them.
FACET_FIELDS = ("project_id", "source", "status", "level", "environment", "error_type")
#: Facets of occurrences.
EVENT_FACET_FIELDS = (
    "project_id",
    "source",
    "level",
    "environment",
    "error_type",
    "version",
    "commit_hash",
    "file_path",
)
#: Bug sort keys; a leading "-" sorts descending. Ties break on id.
BUG_SORTS = ("last_seen", "first_seen", "count", "id")
#: The sort options offered to people, each key both ways.
SIGNED_BUG_SORTS = tuple(f"{sign}{key}" for key in BUG_SORTS for sign in ("-", ""))
DEFAULT_BUG_SORT = "-last_seen"
#: The API's pattern for a sort parameter.
BUG_SORT_PATTERN = rf"^-?({'|'.join(BUG_SORTS)})$"

#: Project fields the projects API may change.
PROJECT_EDITABLE = (
    "name",
    "repo_url",
    "local_path",
    "description",
    "test_command",
    "default_branch",
    "auto_repair",
    "ingest_key",
    "language",
    "grouping",
    "retention_days",
)
#: Project fields the dashboard's grid edits: the write-only ingest key is left out on purpose
#: (it is set through the API, never shown).
PROJECT_GRID_EDITABLE = tuple(f for f in PROJECT_EDITABLE if f != "ingest_key")
#: How a project's reports become bugs: `line`, the integration guide's fingerprint formulas
#: (file and line); `stack`, the error type and the in-app frames' files and functions, so a
#: bug survives lines moving above it. A project without one groups by `line`.
GROUPINGS = ("line", "stack")
DEFAULT_GROUPING = "line"
#: Project fields the repair agent needs; the projects page marks them red when empty.
PROJECT_REQUIRED = ("repo_url", "local_path")
