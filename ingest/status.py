"""Applying a status change to a bug: checked against the workflow (store.vocabulary), written
conditionally on the bug's revision, recorded in its history."""

from __future__ import annotations

from store.base import Store
from store.errors import Conflict, NotFound
from store.models import Bug, StatusChange, utcnow
from store.vocabulary import REGRESSION_STATUSES, TRANSITIONS, Status

S = Status


class IllegalTransition(Exception):
    def __init__(self, current: Status, target: Status) -> None:
        self.current = current
        self.target = target
        self.allowed = TRANSITIONS[current]
        allowed = ", ".join(self.allowed) or "none"
        super().__init__(
            f"cannot move bug from {current} to {target}; allowed from {current}: {allowed}"
        )


class MissingFailureReason(ValueError):
    def __init__(self) -> None:
        super().__init__("failure_reason is required when the status is FIX_FAILED")


def change_status(
    store: Store,
    bug_id: int,
    target: Status,
    *,
    failure_reason: str | None = None,
    note: str | None = None,
    by: str | None = None,
    expected_status: Status | None = None,
    fixed_version: str | None = None,
) -> Bug:
    """Move a bug to `target` if the workflow allows it from its current status.

    A move to FIXED records the version the bug is fixed in (`fixed_version`, else the newest
    version seen on it) on the bug and in its history entry. The write is conditional on the
    bug's revision; when another writer got there first the move is re-checked against the
    fresh status (and refused if no longer legal).
    """
    failure_reason = (failure_reason or "").strip() or None
    fixed_version = (fixed_version or "").strip() or None
    if target == S.FIX_FAILED and not failure_reason:
        raise MissingFailureReason()
    for _ in range(10):
        bug = store.get_bug(bug_id)
        if bug is None:
            raise NotFound(f"bug {bug_id} not found")
        if expected_status is not None and bug.status != expected_status:
            raise IllegalTransition(bug.status, target)
        if target not in TRANSITIONS[bug.status]:
            raise IllegalTransition(bug.status, target)
        fixed = fixed_in(bug, target, fixed_version)
        history = StatusChange.model_validate(
            {
                "from": bug.status,
                "to": target,
                "at": utcnow(),
                "reason": failure_reason or note,
                "by": by,
                "fixed_version": fixed,
            }
        )
        try:
            return store.update_bug(
                bug_id,
                {"status": target, "failure_reason": failure_reason, "fixed_version": fixed},
                expected_revision=bug.revision,
                history=history,
            )
        except Conflict:
            continue
    raise Conflict(f"bug {bug_id} keeps changing; try again")


def fixed_in(bug: Bug, target: Status, given: str | None) -> str | None:
    """The version `bug` counts as fixed in once moved to `target`: the one `given`, else on a
    move to FIXED its newest version, else the one it had; none outside FIXED, VERIFIED and
    DEPLOYED (an occurrence never reopens it there)."""
    if target not in REGRESSION_STATUSES:
        return None
    if given:
        return given
    return bug.newest_version if target == S.FIXED else bug.fixed_version
