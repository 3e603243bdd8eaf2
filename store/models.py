"""Domain records held by every store backend.

These are plain pydantic models; backends translate them to rows or documents. Times are
timezone-aware UTC datetimes, written to JSON as `store.timestamp` says; ids are integers
allocated by the ingest pipeline (bugs) or by the store (projects, repair reports).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from store.timestamp import Timestamp
from store.version import is_older, newest
from store.vocabulary import PROJECT_EDITABLE, REGRESSION_STATUSES, Status


def utcnow() -> datetime:
    return datetime.now(UTC)


class StatusChange(BaseModel):
    from_: str | None = Field(default=None, alias="from")
    to: str
    at: Timestamp
    reason: str | None = None
    by: str | None = None
    #: On a move to FIXED, VERIFIED or DEPLOYED: the version the bug counts as fixed in.
    fixed_version: str | None = None

    model_config = {"populate_by_name": True}

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class BugCreate(BaseModel):
    """What the indexer knows about a bug from its first occurrence."""

    id: int
    fingerprint: str
    project_id: str
    source: str = "runtime"
    environment: str = ""
    level: str = "ERROR"
    error_type: str = ""
    message: str = ""
    file_path: str | None = None
    line_number: int | None = None
    stack_trace: list[str] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)
    version: str | None = None
    commit_hash: str | None = None
    first_seen: Timestamp


class Bug(BugCreate):
    status: Status = Status.NEW
    failure_reason: str | None = None
    count: int = 0
    last_seen: Timestamp
    regression_count: int = 0
    newest_version: str | None = Field(
        default=None,
        description="The latest release its occurrences came from (SemVer or PEP 440 order; "
        "one that compares with nothing only until one that does arrives).",
    )
    fixed_version: str | None = Field(
        default=None,
        description="While FIXED, VERIFIED or DEPLOYED: the release it was fixed in (the one "
        "given with the move, else its newest_version when it moved to FIXED). An occurrence "
        "from an older release does not reopen it.",
    )
    status_history: list[StatusChange] = Field(default_factory=list)
    created_at: Timestamp
    updated_at: Timestamp
    #: Optimistic-concurrency token; changes on every write. Opaque to callers.
    revision: int = 0


def regression_change(status: Status, now: datetime) -> StatusChange:
    """The history entry of a regression: a new occurrence of a bug believed fixed."""
    return StatusChange.model_validate(
        {
            "from": status.value,
            "to": Status.NEW.value,
            "at": now,
            "by": "ingest",
            "reason": f"regression: new occurrence after {status.value}",
        }
    )


def reopen_changes(bug: Bug, now: datetime) -> dict[str, Any]:
    """What a regression changes on a bug: back to NEW (fixed in no version), one more
    regression, its entry."""
    return {
        "status": Status.NEW,
        "fixed_version": None,
        "regression_count": bug.regression_count + 1,
        "status_history": [*bug.status_history, regression_change(bug.status, now)],
    }


def regresses(status: Status, fixed_version: str | None, versions: Iterable[str | None]) -> bool:
    """A bug in `status`, fixed in `fixed_version`, reopens on new occurrences from `versions`:
    it is FIXED/VERIFIED/DEPLOYED and one of them is not from an older release (an empty
    `versions`, unknown, reopens)."""
    if status not in REGRESSION_STATUSES:
        return False
    found = list(versions)
    return not found or any(not is_older(v, fixed_version) for v in found)


def newest_of(current: str | None, versions: Iterable[str | None]) -> str | None:
    """A bug's newest version after occurrences from `versions` (store.version.newest)."""
    for version in versions:
        current = newest(current, version)
    return current


#: Bug fields no update may change: they identify the bug or guard concurrent writes.
READONLY_BUG_FIELDS = frozenset({"id", "fingerprint", "revision"})


def check_bug_changes(changes: Mapping[str, Any]) -> None:
    """Refuse (ValueError) an update of a read-only or unknown bug field."""
    bad = sorted(k for k in changes if k in READONLY_BUG_FIELDS or k not in Bug.model_fields)
    if bad:
        raise ValueError(f"update_bug: cannot change {', '.join(bad)}")


def project_edit(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes a project edit applies. Refuses (ValueError) a field that is not editable;
    setting `repo_url` clears the warning about one a report sent and we ignored."""
    bad = sorted(k for k in changes if k not in PROJECT_EDITABLE)
    if bad:
        raise ValueError(f"update_project: cannot change {', '.join(bad)}")
    return {**changes, "repo_url_warning": None} if "repo_url" in changes else dict(changes)


def reported_repo_url(
    project: Project, repo_url: str | None, warning: str | None = None
) -> dict[str, Any]:
    """What a report changes on its project: its `repo_url` fills an empty one (never
    overwrites one a person set, and clears the warning); the `warning` about one it sent and
    we ignored replaces the last such warning."""
    if repo_url and not project.repo_url:
        return {"repo_url": repo_url, "repo_url_warning": None}
    if warning and warning != project.repo_url_warning:
        return {"repo_url_warning": warning}
    return {}


def first_configured(before: Project | None, after: Project) -> bool:
    """A change gave the project its first repository: before it had neither repo_url nor
    local_path (or did not exist), now it has one."""
    had = before is not None and bool(before.repo_url or before.local_path)
    return not had and bool(after.repo_url or after.local_path)


class Event(BaseModel):
    """One occurrence of a bug. `id` is unique per occurrence (the stream entry id)."""

    id: str
    bug_id: int
    fingerprint: str
    timestamp: Timestamp
    project_id: str
    environment: str = ""
    level: str = "ERROR"
    source: str = "runtime"
    version: str | None = None
    commit_hash: str | None = None
    error_type: str = ""
    message: str = ""
    file_path: str | None = None
    line_number: int | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    stack_trace: list[str] = Field(default_factory=list)


class BugOccurrences(BaseModel):
    """Counter changes for one bug derived from a batch of newly stored events."""

    bug_id: int
    count: int
    first_seen: datetime
    last_seen: datetime
    #: True when a new occurrence arrived while the bug was FIXED/VERIFIED/DEPLOYED.
    reopen: bool = False
    #: The versions the occurrences came from, in arrival order, once each (None: a version
    #: not given). Empty: not known (a reopen then ignores the bug's fixed version).
    versions: list[str | None] = Field(default_factory=list)


def occurrences_of(events: Iterable[Event], reopen: AbstractSet[int]) -> list[BugOccurrences]:
    """Counter changes per bug (by bug id) for newly stored events; `reopen` names the bugs
    whose new occurrences may reopen them."""
    by_bug: dict[int, list[datetime]] = defaultdict(list)
    versions: dict[int, dict[str | None, None]] = defaultdict(dict)
    for event in events:
        by_bug[event.bug_id].append(event.timestamp)
        versions[event.bug_id][event.version] = None
    return [
        BugOccurrences(
            bug_id=bug_id,
            count=len(times),
            first_seen=min(times),
            last_seen=max(times),
            reopen=bug_id in reopen,
            versions=list(versions[bug_id]),
        )
        for bug_id, times in sorted(by_bug.items())
    ]


class BugAlias(BaseModel):
    """A merged bug's fingerprint, answering for the bug it was merged into (`bug_id`).

    `merged_id` is the id the merged bug had: occurrences still carrying it (admitted before
    the merge, indexed after) land on `bug_id`."""

    fingerprint: str
    bug_id: int
    merged_id: int
    merged_at: Timestamp


#: The start of a merge's history entry on the target; the merged id follows.
MERGE_REASON = "merged bug "


def merge_change(status: Status, merged: Bug, now: datetime, by: str | None) -> StatusChange:
    """The target's history entry for one merged bug: which one, and what it brought."""
    return StatusChange.model_validate(
        {
            "from": status.value,
            "to": status.value,
            "at": now,
            "by": by,
            "reason": f"{MERGE_REASON}{merged.id} ({merged.count} occurrences, "
            f"fingerprint {merged.fingerprint})",
        }
    )


def has_merged(history: Iterable[StatusChange | Mapping[str, Any]], merged_id: int) -> bool:
    """Whether a history already records merging `merged_id` (a merge re-run adds nothing)."""
    start = f"{MERGE_REASON}{merged_id} ("
    for entry in history:
        reason = entry.reason if isinstance(entry, StatusChange) else entry.get("reason")
        if reason and reason.startswith(start):
            return True
    return False


def merged_totals(target: Bug, merged: Bug) -> dict[str, Any]:
    """What merging `merged` changes on `target`'s counters."""
    return {
        "count": target.count + merged.count,
        "first_seen": min(target.first_seen, merged.first_seen),
        "last_seen": max(target.last_seen, merged.last_seen),
        "regression_count": target.regression_count + merged.regression_count,
    }


def remap_merged(
    events: list[Event], aliases: Mapping[str, int], reopen: AbstractSet[int]
) -> tuple[list[Event], frozenset[int]]:
    """Events (and the reopen set) with merged fingerprints moved to the bug they now answer
    for: an occurrence admitted under a merged bug's id before the merge lands on the target."""
    moved = {e.bug_id: aliases[e.fingerprint] for e in events if e.fingerprint in aliases}
    if not moved:
        return events, frozenset(reopen)
    out = [
        e.model_copy(update={"bug_id": aliases[e.fingerprint]}) if e.fingerprint in aliases else e
        for e in events
    ]
    return out, frozenset(moved.get(b, b) for b in reopen)


class ToolchainReport(BaseModel):
    """What a repair worker found out about a project's toolchain at its last repair: the
    toolchain and language it detected (None when it recognised none), the test command it
    would run, the executables it needs and could not find, and what stopped it, if anything."""

    name: str | None = Field(default=None, max_length=100, examples=["pytest"])
    language: str | None = Field(default=None, max_length=100, examples=["python"])
    test_command: str | None = Field(default=None, max_length=2000, examples=["pytest -q"])
    missing: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=50, examples=[["flutter"]]
    )
    problem: str | None = Field(default=None, max_length=4000)


class ToolchainInfo(ToolchainReport):
    """A project's last reported toolchain, stamped with when the report arrived."""

    detected_at: Timestamp


class Project(BaseModel):
    id: int
    project_id: str
    name: str | None = None
    repo_url: str | None = None
    local_path: str | None = None
    description: str | None = None
    test_command: str | None = None
    default_branch: str | None = None
    #: None follows the install's setting (LOGCENTER_AUTO_REPAIR); True or False overrides it.
    auto_repair: bool | None = None
    #: The language of the project's alert messages; None follows LOGCENTER_DEFAULT_LANGUAGE.
    language: Literal["en", "zh"] | None = None
    #: Days its occurrences are kept; None follows LOGCENTER_RETENTION_DAYS. Capped by
    #: LOGCENTER_RETENTION_MAX_DAYS when purging (store.retention.Retention).
    retention_days: int | None = Field(default=None, ge=1)
    #: Set by the repair workers (Store.set_project_toolchain), never by a project edit.
    toolchain: ToolchainInfo | None = None
    #: Why the last `repo_url` a report sent was ignored (unsafe or malformed), until a
    #: repository is configured. Never set by a project edit.
    repo_url_warning: str | None = None
    ingest_key: str | None = None
    #: The key of the project's Sentry DSN: public (browsers carry it), generated when the
    #: project is created, required on the Sentry endpoints only.
    public_key: str | None = None
    #: store.vocabulary.GROUPINGS; None groups by DEFAULT_GROUPING.
    grouping: Literal["line", "stack"] | None = None
    created_at: Timestamp
    updated_at: Timestamp


def new_public_key() -> str:
    """A project's DSN key: 32 hex digits, as Sentry's own public keys."""
    return secrets.token_hex(16)


class RepairRound(BaseModel):
    """One round of a repair: what was tried, what the tests said, what it cost."""

    round: int = Field(default=1, ge=1, le=1000)
    phase: str | None = Field(default=None, examples=["FIXING"])
    analysis: str = ""
    changed_files: list[str] = Field(default_factory=list)
    diff: str = ""
    test_command: str | None = None
    test_output: str = ""
    passed: bool = False
    failure_reason: str | None = None
    model: str | None = None
    tokens: int = Field(default=0, ge=0)
    cost: float = Field(default=0.0, ge=0)
    duration: float = Field(default=0.0, ge=0)
    branch: str | None = None
    commit: str | None = None


class RepairReportIn(RepairRound):
    bug_id: int


class RepairReport(RepairReportIn):
    id: int
    project_id: str
    created_at: Timestamp


class FilterPill(BaseModel):
    """One filter of a Discover search: `field:value`, negated (`-field:value`) or switched off."""

    field: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=1000)
    negated: bool = False
    disabled: bool = False


class SavedSearchIn(BaseModel):
    """A Discover search kept under a name: everything needed to open it again as it was."""

    name: str = Field(min_length=1, max_length=200)
    q: str = Field(default="", max_length=10_000)
    filters: list[FilterPill] = Field(default_factory=list, max_length=100)
    #: The document table's columns, in order (any field, `context.*` included).
    columns: list[str] = Field(default_factory=list, max_length=100)
    #: A relative range ("15m", "24h", "7d"); empty when `start`/`end` give an absolute one.
    range: str = Field(default="24h", max_length=20)
    start: Timestamp | None = None
    end: Timestamp | None = None
    sort: str = Field(default="-timestamp", max_length=100)


class SavedSearch(SavedSearchIn):
    id: int
    created_at: Timestamp
    updated_at: Timestamp


def saved_search(
    search: SavedSearchIn, search_id: int, created_at: datetime | None = None
) -> SavedSearch:
    """`search` stored under `search_id`: created now, or replaced keeping its creation time."""
    now = utcnow()
    return SavedSearch(
        **search.model_dump(), id=search_id, created_at=created_at or now, updated_at=now
    )
