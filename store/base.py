"""The storage seam: everything in Log Center reads and writes through a `Store`.

Backends (store.sqlite.SQLiteStore, store.elasticsearch.ElasticsearchStore) satisfy this
Protocol structurally. Every method is safe to call from several processes at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Protocol

from store.alert import (
    AlertChannel,
    AlertChannelIn,
    AlertDelivery,
    AlertDeliveryIn,
    AlertRule,
    AlertRuleIn,
)
from store.models import (
    Bug,
    BugCreate,
    BugOccurrences,
    Event,
    Project,
    RepairReport,
    RepairReportIn,
    SavedSearch,
    SavedSearchIn,
    StatusChange,
    ToolchainInfo,
)
from store.record import Record
from store.retention import Cutoffs
from store.search import BugPage, BugQuery, EventPage, EventQuery


class Store(Protocol):
    # -- lifecycle -------------------------------------------------------------------------
    def init(self) -> None:
        """Create schema, indices and templates if absent (idempotent; run at every start)."""

    def ping(self) -> bool:
        """True when the backend answers."""

    def write_block(self) -> str | None:
        """Why the backend itself refuses writes now (Elasticsearch past its flood-stage disk
        watermark), None when it takes them. Writes refused so raise Unavailable."""

    def close(self) -> None: ...

    # -- bugs -------------------------------------------------------------------------------
    def create_bugs(self, bugs: Iterable[BugCreate]) -> dict[str, int]:
        """Create each bug whose fingerprint is absent, with count 0 and status NEW.

        Atomic and idempotent per fingerprint: when a fingerprint already exists (created by an
        earlier call or by another process racing on it) the existing bug is kept. Returns
        {fingerprint: id of the stored bug} for every fingerprint passed.
        """

    def get_bug(self, bug_id: int) -> Bug | None: ...

    def bug_ids_by_fingerprint(self, fingerprints: Iterable[str]) -> dict[str, int]:
        """{fingerprint: bug id} of those known; a merged bug's fingerprint answers the bug it
        was merged into."""

    def merge_bugs(self, target_id: int, bug_ids: Iterable[int], *, by: str | None = None) -> Bug:
        """Merge bugs into `target_id` and return the target as it is afterwards.

        Counts, first/last seen, regressions, occurrences and repair reports move to the
        target; its history gets one entry per merged bug (id, occurrences moved, fingerprint);
        the merged bugs are gone (get_bug None, merged_into answers the target) and their
        fingerprints, and those merged into them before, answer the target from now on
        (create_bugs, bug_ids_by_fingerprint, iter_bug_keys, add_events). Idempotent: a bug
        already merged into the target is skipped, and a merge cut short is finished by running
        it again. Raises NotFound for an unknown bug, Conflict for a bug of another project,
        ValueError for the target among `bug_ids`.
        """

    def merged_into(self, bug_id: int) -> int | None:
        """The bug a merged bug now lives in (None: `bug_id` was never merged)."""

    def merged_fingerprints(self, bug_id: int) -> list[str]:
        """The fingerprints merged into `bug_id` (directly or through a bug merged into it)."""

    def update_bug(
        self,
        bug_id: int,
        changes: Mapping[str, Any],
        *,
        expected_revision: int | None = None,
        history: StatusChange | None = None,
    ) -> Bug:
        """Apply a partial update (any Bug field but id/fingerprint/revision).

        With `expected_revision`, refuse with store.errors.Conflict when the bug changed since it
        was read. `history` is appended to status_history in the same write. Raises NotFound.
        """

    def apply_occurrences(self, occurrences: Iterable[BugOccurrences]) -> None:
        """Add counts, widen first_seen/last_seen and move newest_version of bugs from newly
        stored events.

        A `reopen` occurrence moves a FIXED/VERIFIED/DEPLOYED bug back to NEW, adds 1 to
        regression_count, clears fixed_version and appends a status_history entry saying why
        (only if the bug is still in one of those statuses when applied and one of the
        occurrence's versions is not older than its fixed_version: store.models.regresses).
        """

    def iter_bug_keys(self) -> Iterator[tuple[str, int, str, str | None]]:
        """Every bug's (fingerprint, id, status, fixed_version), then every merged
        fingerprint's with its target's id, status and fixed_version: used to rebuild the
        Redis gate."""

    def max_bug_id(self) -> int:
        """The highest bug id stored or reserved (0 when none)."""

    def reserve_bug_ids(self, block: int) -> int:
        """Atomically reserve the next `block` bug ids; return the last id of the block.

        Reservations survive restarts, so an id handed out once is never handed out again even
        when Redis loses its keys.
        """

    # -- events ----------------------------------------------------------------------------
    def add_events(
        self, events: list[Event], reopen_bug_ids: AbstractSet[int] = frozenset()
    ) -> list[BugOccurrences]:
        """Store occurrences in bulk, idempotent on event id, and update their bugs' counters.

        Only events not stored before count; the returned occurrences describe what was added.
        An event whose fingerprint was merged into another bug is stored on that bug.
        Re-adding the same events (a redelivered stream batch) changes nothing. Events whose
        bug id is unknown are stored anyway. `reopen_bug_ids` names bugs whose occurrence the
        ingest gate flagged as a regression: each one that got at least one new event here is
        reopened as `apply_occurrences` does for a `reopen` occurrence (and `reopen` is True in
        its returned occurrence only when it was actually reopened).
        """

    def get_events(
        self, bug_id: int, *, page: int = 1, size: int = 50, cursor: str | None = None
    ) -> EventPage:
        """A bug's occurrences, newest first."""

    def get_event(self, event_id: str) -> Event | None:
        """One occurrence by its id, whole (stack trace and context), or None."""

    def purge_events(self, cutoffs: Cutoffs) -> dict[str, int]:
        """Drop occurrences stamped before their project's cutoff (retention): bug counts,
        first and last seen and status history are kept. Returns {project id: occurrences
        dropped}, projects that lost none left out."""

    # -- search ----------------------------------------------------------------------------
    def search_bugs(self, query: BugQuery) -> BugPage:
        """Raise store.errors.QueryError for a bad query string or cursor."""

    def search_events(self, query: EventQuery) -> EventPage: ...

    # -- projects --------------------------------------------------------------------------
    def ensure_project(
        self, project_id: str, *, repo_url: str | None = None, repo_url_warning: str | None = None
    ) -> Project:
        """Create the project if absent; fill an empty repo_url, never overwrite a set one.
        `repo_url_warning` says why a report's repo_url was ignored (kept until a repository
        is configured)."""

    def get_project(self, project_id: str) -> Project | None: ...

    def get_project_by_number(self, number: int) -> Project | None:
        """The project whose integer `id` is `number` (the project of a Sentry DSN)."""

    def list_projects(self) -> list[Project]: ...

    def update_project(self, project_id: str, changes: Mapping[str, Any]) -> Project:
        """Partial update of editable fields; creates the project when absent."""

    def set_project_toolchain(self, project_id: str, toolchain: ToolchainInfo) -> Project:
        """Replace the project's last reported toolchain (what a repair worker detected).

        Changes nothing else: `updated_at` keeps dating the project's settings, `detected_at`
        dates this. Raises NotFound for an unknown project (a report never creates one).
        """

    # -- saved searches --------------------------------------------------------------------
    def save_search(self, search: SavedSearchIn, search_id: int | None = None) -> SavedSearch:
        """Create a saved search (`search_id` None) or replace one. Names are unique: Conflict
        when another search has the name; NotFound for an unknown `search_id`."""

    def get_search(self, search_id: int) -> SavedSearch | None: ...

    def list_searches(self) -> list[SavedSearch]:
        """Every saved search, by name."""

    def delete_search(self, search_id: int) -> bool:
        """Delete a saved search; False when there was none."""

    # -- repair reports --------------------------------------------------------------------
    def add_repair_report(self, report: RepairReportIn) -> RepairReport:
        """Store one round's report; project_id is taken from the bug. Raises NotFound."""

    def list_repair_reports(
        self,
        *,
        bug_id: int | None = None,
        project_id: str | None = None,
        passed: bool | None = None,
        page: int = 1,
        size: int = 50,
    ) -> tuple[int, list[RepairReport]]:
        """(total, reports) newest first; for one bug, in round order (oldest first)."""

    # -- alerts ----------------------------------------------------------------------------
    def add_alert_channel(self, channel: AlertChannelIn) -> AlertChannel:
        """Store a new channel (secret included) with an id of the store's; no health yet."""

    def get_alert_channel(self, channel_id: int) -> AlertChannel | None: ...

    def list_alert_channels(self) -> list[AlertChannel]:
        """Every channel, by id."""

    def update_alert_channel(self, channel_id: int, changes: Mapping[str, Any]) -> AlertChannel:
        """Partial update of AlertChannelIn or ChannelHealth fields; other fields raise
        ValueError. A concurrent health write is never lost. Raises NotFound."""

    def delete_alert_channel(self, channel_id: int) -> None:
        """Raises NotFound. Rules naming the channel keep its id (it names nothing now)."""

    def add_alert_rule(self, rule: AlertRuleIn) -> AlertRule: ...

    def get_alert_rule(self, rule_id: int) -> AlertRule | None: ...

    def list_alert_rules(self) -> list[AlertRule]:
        """Every rule, by id."""

    def update_alert_rule(self, rule_id: int, changes: Mapping[str, Any]) -> AlertRule:
        """Partial update of AlertRuleIn fields (others raise ValueError). Raises NotFound."""

    def delete_alert_rule(self, rule_id: int) -> None:
        """Raises NotFound."""

    def add_alert_delivery(self, delivery: AlertDeliveryIn) -> AlertDelivery:
        """Record one delivery and set its channel's last success or last failure from it
        (the channel may have been deleted since: then only the delivery is kept)."""

    def list_alert_deliveries(
        self, *, channel_id: int | None = None, limit: int = 50
    ) -> list[AlertDelivery]:
        """The latest deliveries (of one channel, or all), newest first."""

    # -- copying between stores (logcenter migrate) ------------------------------------------
    def export_records(
        self, kind: str, after: str | None, limit: int
    ) -> tuple[list[Record], str | None]:
        """Up to `limit` records of `kind` (store.record.KINDS) after position `after` (None:
        from the start), in a stable order, as store.record carries them; with the position to
        resume from, or None when no record is left. Positions are opaque strings."""

    def import_records(self, kind: str, records: list[Record]) -> int:
        """Write records of `kind` exactly as given: ids, counts, first/last seen, statuses,
        history and times kept. A record stored before (same id) is replaced, so writing a
        batch twice changes nothing; events never change their bug's count (bug records carry
        it), and a bug id reservation only ever raises the highest reserved id. Raises
        Conflict for a bug whose id another fingerprint holds. Returns how many were written."""
