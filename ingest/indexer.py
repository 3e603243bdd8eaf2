"""The indexer: reads the occurrence stream in batches (a Redis consumer group) into the store.

Several indexers share one stream. A batch is written (bugs created idempotently on fingerprint,
events in bulk, idempotent on the stream entry id, counters derived from what was new), then
acknowledged and deleted from the stream. Entries of a crashed indexer stay pending and are
claimed by another after `claim_idle_ms`; redelivery never double-counts because the store only
counts events it had not stored before.

An indexer that loses Redis or the store mid-batch keeps running: it retries every second at
most, and once it reads again it first takes back its own pending entries (the batch it had
read but not acknowledged, or whose reply was lost with the connection) instead of leaving them
to the claim timeout, so acknowledged reports are stored within seconds of Redis returning.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingest.alerts.fact import IndexerFacts, WantedTriggers
from ingest.gate import Keys
from ingest.stream import StreamEntry, decode
from store.base import Store
from store.errors import Unavailable
from store.models import BugCreate, Event, Project, first_configured
from store.retention import Retention

log = logging.getLogger("logcenter.indexer")

#: A stream entry as Redis returns it (id, fields); `ingest.stream.decode` reads it.
RawEntry = tuple[bytes, dict[bytes, bytes]]
_STORED_CACHE = 200_000
#: Seconds between retries after losing Redis or the store: doubling from the first, capped
#: low, since recovery waits on the next try.
RETRY_FIRST = 0.25
RETRY_MAX = 1.0
#: After a failed retention purge, the next try (a store outage ends the same way).
PURGE_RETRY_SECONDS = 300


@dataclass
class IndexerStats:
    batches: int = 0
    events: int = 0
    new_events: int = 0
    last_batch_at: float = 0.0


@dataclass
class Indexer:
    redis: Redis
    store: Store
    prefix: str = "lc:"
    batch_size: int = 500
    block_ms: int = 200
    claim_idle_ms: int = 30_000
    retention: Retention = field(default_factory=lambda: Retention(30, 365))
    #: How often to ask the store whether it refuses writes (Elasticsearch's flood stage):
    #: a write into a blocked index waits for the block, so the indexer asks first.
    block_check_seconds: float = 5.0
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    on_new_bugs: Callable[[list[int]], None] | None = None
    #: Called when a report's repo_url gives a project its first repository.
    on_repository_configured: Callable[[Project], object] | None = None
    #: Appends the batch's alert facts (new bugs, regressions, occurrences) when set.
    alerts: IndexerFacts | None = None
    stats: IndexerStats = field(default_factory=IndexerStats)

    def __post_init__(self) -> None:
        self.keys = Keys(self.prefix)
        self._projects_seen: set[tuple[str, bool, str | None]] = set()
        #: Fingerprint -> id of bugs this process has seen stored, so a batch asks the store to
        #: create only the fingerprints it has not seen yet. A merge removes bugs: it bumps
        #: the gate's merge counter, and a batch that sees it changed starts this over.
        self._stored: dict[str, int] = {}
        self._merges: bytes | None = None
        self._next_claim = 0.0
        self._next_purge = 0.0
        self._next_block_check = 0.0
        #: Read this consumer's own pending entries before new ones (set after a failure).
        self._own_pending = True
        self.stopping = False

    # -- the loop -------------------------------------------------------------------------
    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.keys.stream, self.keys.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self) -> None:
        """Index until `stopping` is set (SIGTERM/SIGINT in `main`)."""
        backoff = RETRY_FIRST
        need_group = True
        while not self.stopping:
            try:
                if need_group:
                    self.ensure_group()
                    need_group = False
                self.run_once()
                backoff = RETRY_FIRST
            except ResponseError as exc:
                # Redis lost the stream or the group (restart without persistence, FLUSHALL).
                if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                    raise
                log.warning("indexer: stream or group vanished (%s); recreating", exc)
                need_group = True
            except (RedisConnectionError, RedisTimeoutError, Unavailable, OSError) as exc:
                need_group = True
                self._own_pending = True  # the batch in hand, if any, is still pending
                log.warning("indexer: %s; retrying in %.2fs", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX)

    def run_once(self) -> int:
        """Read and index one batch (own pending entries first, then claimed stale ones, then
        new ones); return entries handled."""
        entries = self._read_own_pending() or self._claim_stale() or self._read_new()
        if entries:
            if cause := self._write_block():
                self._own_pending = True  # the entries stay pending; `run` backs off
                raise Unavailable(cause)
            self.index(entries)
        self._purge_if_due()
        return len(entries)

    def drain(self, timeout: float = 30.0) -> None:
        """Index until the stream holds nothing unacknowledged (used by tests and `bench`)."""
        deadline = time.monotonic() + timeout
        self.ensure_group()
        while time.monotonic() < deadline:
            if not self.run_once() and self.redis.xlen(self.keys.stream) == 0:
                return
        raise TimeoutError("indexer: stream not drained in time")

    def _read_new(self) -> list[RawEntry]:
        reply = self.redis.xreadgroup(
            self.keys.group,
            self.consumer,
            {self.keys.stream: ">"},
            count=self.batch_size,
            block=self.block_ms,
        )
        streams: list[tuple[bytes, list[RawEntry]]] = reply or []  # type: ignore[assignment]
        return [e for _, batch in streams for e in batch]

    def _read_own_pending(self) -> list[RawEntry]:
        """Entries delivered to this consumer and not acknowledged, until there are none."""
        if not self._own_pending:
            return []
        reply = self.redis.xreadgroup(
            self.keys.group, self.consumer, {self.keys.stream: "0"}, count=self.batch_size
        )
        streams: list[tuple[bytes, list[RawEntry]]] = reply or []  # type: ignore[assignment]
        entries = [e for _, batch in streams for e in batch]
        self._own_pending = bool(entries)
        return entries

    def _claim_stale(self) -> list[RawEntry]:
        now = time.monotonic()
        if now < self._next_claim:
            return []
        self._next_claim = now + max(self.claim_idle_ms / 4000, 0.5)
        reply = self.redis.xautoclaim(
            self.keys.stream,
            self.keys.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=self.batch_size,
        )
        claimed: list[RawEntry] = reply[1]
        return [e for e in claimed if e[1]]

    def _write_block(self) -> str | None:
        """The store's own refusal to write, asked at most every `block_check_seconds` (at
        every try while it lasts)."""
        now = time.monotonic()
        if now < self._next_block_check:
            return None
        cause = self.store.write_block()
        self._next_block_check = now if cause else now + self.block_check_seconds
        return cause

    def _purge_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + 3600
        try:
            self.purge()
        except Exception as exc:  # housekeeping: it never stops the indexing
            self._next_purge = now + PURGE_RETRY_SECONDS
            log.warning(
                "retention: purge failed (%s: %s); trying again in %d s",
                type(exc).__name__,
                exc,
                PURGE_RETRY_SECONDS,
            )

    def purge(self) -> dict[str, int]:
        """Apply retention now: each project's occurrences older than its own retention go.
        Returns {project id: occurrences dropped}, also logged and added to /metrics."""
        projects = self.store.list_projects()
        for project in self.retention.capped(projects):
            log.warning(
                "retention: project %s keeps %d days, above LOGCENTER_RETENTION_MAX_DAYS; "
                "purging at %d",
                project.project_id,
                project.retention_days,
                self.retention.max_days,
            )
        cutoffs = self.retention.cutoffs(projects, datetime.now(UTC))
        dropped = self.store.purge_events(cutoffs)
        pipe = self.redis.pipeline(transaction=False)
        for project_id, count in dropped.items():
            log.info(
                "retention: dropped %d occurrences of project %s older than %s",
                count,
                project_id,
                cutoffs.of(project_id).isoformat(timespec="seconds"),
            )
            pipe.hincrby(self.keys.purged, project_id, count)
        if dropped:
            pipe.execute()
        return dropped

    # -- one batch ------------------------------------------------------------------------
    def index(self, entries: list[RawEntry]) -> None:
        records = [decode(eid, fields) for eid, fields in entries if fields]
        first_by_fp: dict[str, BugCreate] = {}
        for record in records:
            if record.fingerprint not in first_by_fp:
                first_by_fp[record.fingerprint] = _bug_create(record)
        stored = self._store_bugs(first_by_fp)
        self._fix_gate_ids(first_by_fp, stored)
        events = [_event(record, stored[record.fingerprint]) for record in records]
        reopen = {stored[record.fingerprint] for record in records if record.reopened}
        self._register_projects(records)
        occurrences = self.store.add_events(events, reopen_bug_ids=reopen)
        ids = [record.entry_id for record in records] + [e[0].decode() for e in entries if not e[1]]
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.keys.stream, self.keys.group, *ids)
        pipe.xdel(self.keys.stream, *ids)
        pipe.execute()
        self.stats.batches += 1
        self.stats.events += len(events)
        self.stats.new_events += sum(o.count for o in occurrences)
        self.stats.last_batch_at = time.time()
        if self.alerts:
            new_ids = (stored[r.fingerprint] for r in records if r.is_new)
            self.alerts.record(new_ids, occurrences)
        if self.on_new_bugs:
            # First admissions and regressions: candidates for an automatic repair.
            fresh = {stored[r.fingerprint] for r in records if r.is_new or r.reopened}
            if fresh:
                self.on_new_bugs(sorted(fresh))

    def _store_bugs(self, first: dict[str, BugCreate]) -> dict[str, int]:
        """{fingerprint: stored bug id}; only fingerprints not known stored go to the store
        (re-creating known ones rewrote nothing but cost ~10% of the indexer's time)."""
        merges = self.redis.get(self.keys.merges)
        if merges != self._merges:  # bugs were merged: cached ids may name merged bugs
            self._stored.clear()
            self._merges = merges  # type: ignore[assignment]
        known = {fp: self._stored[fp] for fp in first if fp in self._stored}
        missing = [bug for fp, bug in first.items() if fp not in known]
        created = self.store.create_bugs(missing) if missing else {}
        if len(self._stored) > _STORED_CACHE:
            self._stored.clear()
        self._stored.update(created)
        return {**known, **created}

    def _fix_gate_ids(self, first: dict[str, BugCreate], stored: dict[str, int]) -> None:
        """Where the store already knew a fingerprint under another id, point the gate at it."""
        pipe = self.redis.pipeline(transaction=False)
        changed = False
        for fp, bug in first.items():
            if stored[fp] != bug.id:
                pipe.set(self.keys.fingerprint(fp), stored[fp])
                changed = True
        if changed:
            pipe.execute()

    def _register_projects(self, records: list[StreamEntry]) -> None:
        for record in records:
            rep = record.payload
            project_id, repo_url = rep["project_id"], rep.get("repo_url") or None
            warning = rep.get("repo_url_rejected")
            key = (project_id, bool(repo_url), warning)
            if key in self._projects_seen:
                continue
            # Read first only when the report could fill an empty repository (once per project
            # and process), to tell whether it did.
            before = self.store.get_project(project_id) if repo_url else None
            after = self.store.ensure_project(
                project_id, repo_url=repo_url, repo_url_warning=warning
            )
            if repo_url and self.on_repository_configured and first_configured(before, after):
                self.on_repository_configured(after)
            self._projects_seen.add(key)


def _fields(record: StreamEntry) -> dict[str, Any]:
    """What a bug's first occurrence and every event take from a stream entry."""
    rep = record.payload
    err = rep["error"]
    return {
        "fingerprint": record.fingerprint,
        "project_id": rep["project_id"],
        "source": rep["source"],
        "environment": rep["environment"],
        "level": rep["level"],
        "error_type": err["type"],
        "message": err["message"],
        "file_path": err.get("file_path"),
        "line_number": err.get("line_number"),
        "stack_trace": err["stack_trace"],
        "context": rep.get("context") or {},
        "version": rep.get("version"),
        "commit_hash": rep.get("commit_hash"),
    }


def _bug_create(record: StreamEntry) -> BugCreate:
    """The bug a fingerprint's first entry creates, under the id the gate gave it."""
    first_seen = record.payload["timestamp"]  # ISO 8601: the model parses it
    return BugCreate.model_validate(
        {"id": record.bug_id, "first_seen": first_seen, **_fields(record)}
    )


def _event(record: StreamEntry, bug_id: int) -> Event:
    """The entry's occurrence, of the stored bug `bug_id`; its id is the entry id."""
    timestamp = record.payload["timestamp"]
    return Event.model_validate(
        {"id": record.entry_id, "bug_id": bug_id, "timestamp": timestamp, **_fields(record)}
    )


def main(settings: Any = None) -> None:
    """Run one indexer process against the configured Redis and store until SIGTERM/SIGINT."""
    from config.settings import get_settings
    from config.wiring import open_configured_store, redis_url
    from ingest.autorepair import AutoRepair

    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
    redis = Redis.from_url(redis_url(settings), socket_timeout=10)
    store = open_configured_store(settings, indexer=True)
    repairs = AutoRepair(store, redis, settings)
    indexer = Indexer(
        redis=redis,
        store=store,
        prefix=settings.redis_prefix,
        batch_size=settings.indexer_batch,
        block_ms=settings.indexer_block_ms,
        claim_idle_ms=settings.indexer_claim_idle_ms,
        retention=Retention(settings.retention_days, settings.retention_max_days),
        on_new_bugs=repairs.on_new_bugs,
        on_repository_configured=repairs.on_repository_configured,
        alerts=IndexerFacts(
            redis,
            settings.redis_prefix,
            WantedTriggers(store.list_alert_rules, settings.alerts_cache_seconds),
            settings.alerts_stream_maxlen,
        ),
    )
    deliverer = None
    if settings.alerts_in_indexer:
        from ingest.alerts.deliverer import Deliverer

        alerts_redis = Redis.from_url(redis_url(settings), socket_timeout=10)
        deliverer = Deliverer(alerts_redis, open_configured_store(settings), settings)
        deliverer.start()

    def stop(*_: object) -> None:
        indexer.stopping = True
        if deliverer is not None:
            deliverer.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("indexer %s reading %s", indexer.consumer, indexer.keys.stream)
    indexer.run()


if __name__ == "__main__":
    main()
