"""Merging bugs that are one: the store moves everything to the target, then the gate learns
that the merged fingerprints are the target's.

The store's aliases are the truth: a report the gate admits under a merged id before it learns
(or after Redis lost its keys, until the rebuild reads the aliases back) is stored on the target
anyway. A bug whose repair is queued or running is not merged: the repair would end on a bug
that is gone; merge it once the repair is done.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis import Redis

from ingest.gate import publish_merge
from store.base import Store
from store.errors import NotFound
from store.models import Bug
from store.vocabulary import Status

#: Bugs merged in one request at most.
MAX_MERGED = 100
#: Statuses of a bug whose repair is queued or running.
REPAIRING = frozenset({Status.PENDING_FIX, Status.FIXING})


class MergeRefused(Exception):
    """A merge that cannot be done as asked; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str = "bug_ids", conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        #: True when the bugs are in the way (409), False when the input is wrong (422).
        self.conflict = conflict


def merge_bugs(
    store: Store, redis: Redis, prefix: str, target_id: int, bug_ids: Iterable[int], by: str
) -> Bug:
    """Merge `bug_ids` into `target_id` (NotFound for an unknown target)."""
    ids = list(dict.fromkeys(bug_ids))
    if target_id in ids:
        raise MergeRefused(f"bug {target_id} cannot be merged into itself")
    target = store.get_bug(target_id)
    if target is None:
        raise NotFound(f"bug {target_id} not found")
    for bug_id in ids:
        _check_mergeable(store, target, bug_id)
    result = store.merge_bugs(target_id, ids, by=by)
    # Every fingerprint now answering the target: the merged bugs' and those merged into them.
    fingerprints = store.merged_fingerprints(target_id)
    publish_merge(redis, prefix, target_id, fingerprints, ids)
    return result


def _check_mergeable(store: Store, target: Bug, bug_id: int) -> None:
    """Refuse (MergeRefused) a bug that cannot be merged into `target`; one merged into it
    before passes (merging again changes nothing)."""
    bug = store.get_bug(bug_id)
    if bug is None:
        if store.merged_into(bug_id) == target.id:
            return
        raise MergeRefused(f"bug {bug_id} not found")
    if bug.project_id != target.project_id:
        raise MergeRefused(
            f"bug {bug_id} belongs to project {bug.project_id!r}, bug {target.id} to "
            f"{target.project_id!r}: only bugs of one project can be merged",
            conflict=True,
        )
    if bug.status in REPAIRING:
        raise MergeRefused(
            f"bug {bug_id} is being repaired ({bug.status.value}): merge it once the repair ends",
            conflict=True,
        )
