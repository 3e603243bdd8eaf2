"""The Elasticsearch store backend (scale-out): the official client, no scripts, ILM or streams.

Layout (`mapping`): `<prefix>bugs` keyed by fingerprint (so creation is idempotent across
processes), `<prefix>projects` keyed by project_id, `<prefix>repairs`, `<prefix>meta` (id
counters, leases) and daily `<prefix>events-YYYY.MM.DD` indices read through `<prefix>events-*`;
bugs and rewritten days are aliases of versioned indices (`generation`).
Every write refreshes what it touched, so it is visible to searches when the method returns
(except add_events in a store opened with refresh=False: see ElasticsearchStore).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from store import lucene as lq
from store.elasticsearch.alerts import ElasticsearchAlerts
from store.elasticsearch.client import (
    BugDoc,
    bug_doc_from_hit,
    bulk_conflicts,
    counter_value,
    next_counter,
    query_errors,
    serializers,
    translated,
    with_occ,
)
from store.elasticsearch.counts import (
    Batch,
    count_batch,
    counters_of_events,
    fingerprints_of,
)
from store.elasticsearch.generation import add_missing_fields, ensure_bugs
from store.elasticsearch.mapping import (
    TEMPLATE_VERSION,
    IndexNames,
    bug_doc,
    bug_from_doc,
    event_doc,
    event_from_doc,
    new_bug,
    project_from_doc,
    repair_from_doc,
    search_doc,
    search_from_doc,
)
from store.elasticsearch.merge import (
    alias_keys,
    aliases_of,
    drop_merged,
    merged_fingerprints,
    merged_into,
    move_documents,
    point_aliases,
    take_counts,
)
from store.elasticsearch.purge import purge
from store.elasticsearch.search import BUG_SOURCE_EXCLUDES, BugSearch, EventSearch
from store.elasticsearch.transfer import ElasticsearchTransfer
from store.elasticsearch.upgrade import upgrade_projects
from store.errors import Conflict, NotFound
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
    check_bug_changes,
    new_public_key,
    newest_of,
    occurrences_of,
    project_edit,
    regresses,
    remap_merged,
    reopen_changes,
    reported_repo_url,
    saved_search,
    utcnow,
)
from store.retention import Cutoffs
from store.search import BugPage, BugQuery, EventPage, EventQuery

_BULK_CHUNK = 1000
#: The index block a node sets on every index with a shard on a disk past flood stage.
FLOOD_BLOCK = "index.blocks.read_only_allow_delete"
#: Bug ids whose fingerprint (document _id) a store remembers before it starts over.
_FINGERPRINT_CACHE = 200_000


class ElasticsearchStore(ElasticsearchAlerts, ElasticsearchTransfer):
    """Store backend over an Elasticsearch 8/9 cluster; satisfies store.base.Store.

    With `refresh=False`, add_events leaves its events and counts to the indices' periodic
    refresh (within a second) instead of refreshing them before it returns: nothing an indexer
    does needs them searchable, and the refresh is a sixth to a fifth of the node's work per event.
    """

    def __init__(
        self,
        url: str,
        *,
        index_prefix: str = "logcenter-",
        shards: int = 1,
        replicas: int = 0,
        request_timeout: float = 30.0,
        refresh: bool = True,
        **options: Any,
    ) -> None:
        self.url = url.replace("elasticsearch://", "http://", 1)
        self.names = IndexNames(index_prefix)
        self.shards = shards
        self.replicas = replicas
        self.refresh = refresh
        options.setdefault("serializers", serializers())
        self.es = Elasticsearch(self.url, request_timeout=request_timeout, **options)
        self._fingerprints: dict[int, str] = {}

    # -- lifecycle -------------------------------------------------------------------------
    @translated
    def init(self) -> None:
        """Put versioned templates (never downgrading), give existing indices the fields they
        lack, create the fixed indices and bring the bugs to their current generation."""
        for name, body in self.names.templates(self.shards, self.replicas).items():
            current = self._template_version(name)
            if current is None or current < TEMPLATE_VERSION:
                self.es.indices.put_index_template(name=name, **body)
            if current is not None and current < TEMPLATE_VERSION:
                add_missing_fields(self.es, body["index_patterns"], body["template"]["mappings"])
                if name == self.names.projects:
                    upgrade_projects(self.es, self.names.projects, current)
        for index in self.names.fixed:
            try:
                self.es.indices.create(index=index, wait_for_active_shards="1")
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
        ensure_bugs(self.es, self.names)

    def _template_version(self, name: str) -> int | None:
        try:
            found = self.es.indices.get_index_template(name=name)["index_templates"]
        except NotFoundError:
            return None
        version = found[0]["index_template"].get("version") if found else None
        return int(version) if version is not None else 0

    def ping(self) -> bool:
        try:
            return self.es.cluster.health(timeout="5s")["status"] in ("green", "yellow")
        except Exception:  # any failure to answer means "not available"
            return False

    @translated
    def write_block(self) -> str | None:
        """The read-only-allow-delete block the node puts on indices past its flood-stage
        watermark (and lifts by itself once disk usage falls below the high watermark)."""
        found = self.es.indices.get_settings(
            index=f"{self.names.prefix}*",
            name=FLOOD_BLOCK,
            flat_settings=True,
            allow_no_indices=True,
            expand_wildcards="open",
        )
        blocked = sorted(
            name
            for name, body in found.items()
            if body.get("settings", {}).get(FLOOD_BLOCK) == "true"
        )
        if not blocked:
            return None
        shown = ", ".join(blocked[:3]) + (
            f" and {len(blocked) - 3} more" if len(blocked) > 3 else ""
        )
        return (
            f"Elasticsearch flood-stage disk watermark: {shown} read-only ({FLOOD_BLOCK}); "
            "reports wait in the stream until the node has disk space again"
        )

    def close(self) -> None:
        self.es.close()

    def drop(self) -> None:
        """Delete every index and template under this prefix (tests, uninstall)."""
        indices = list(self.es.indices.get(index=f"{self.names.prefix}*", expand_wildcards="all"))
        for start in range(0, len(indices), 50):
            self.es.indices.delete(index=",".join(indices[start : start + 50]))
        for name in self.names.templates(self.shards, self.replicas):
            self.es.options(ignore_status=404).indices.delete_index_template(name=name)

    # -- bugs -------------------------------------------------------------------------------
    @translated
    def create_bugs(self, bugs: Iterable[BugCreate]) -> dict[str, int]:
        now = utcnow()
        ops: list[dict[str, Any]] = []
        wanted: dict[str, int] = {}
        creates = list(bugs)
        merged = aliases_of(self.es, self.names, (c.fingerprint for c in creates))
        for create in creates:
            if create.fingerprint in wanted or create.fingerprint in merged:
                continue
            wanted[create.fingerprint] = create.id
            ops.append({"create": {"_index": self.names.bugs, "_id": create.fingerprint}})
            ops.append(bug_doc(new_bug(create, now), count_base=0, purged_before=None))
        if not ops:
            return merged
        self._check_ids_free(wanted)
        results = bulk_conflicts(self.es, ops, refresh=True)
        existing = [fingerprint for fingerprint, conflict in results if conflict]
        return {**merged, **wanted, **self._ids_of(existing)}

    def _check_ids_free(self, wanted: dict[str, int]) -> None:
        """Refuse a bug id already held by another fingerprint (ids come from the gate)."""
        taken = fingerprints_of(self.es, self.names, wanted.values())
        for fingerprint, bug_id in wanted.items():
            if taken.get(bug_id, fingerprint) != fingerprint:
                raise Conflict(f"bug id {bug_id} is taken by another fingerprint")

    @translated
    def get_bug(self, bug_id: int) -> Bug | None:
        if bug_id in self._fingerprints:
            doc = self._bug_doc(bug_id)
            return doc.bug if doc else None
        # One search finds the bug by id and returns it (rather than its _id, then a get).
        hits = self.es.search(
            index=self.names.bugs,
            query={"term": {"id": bug_id}},
            size=1,
            source_excludes=BUG_SOURCE_EXCLUDES,
        )["hits"]["hits"]
        if not hits:
            return None
        self._fingerprints[bug_id] = hits[0]["_id"]
        return bug_from_doc(hits[0]["_source"])

    def _bug_doc(self, bug_id: int) -> BugDoc | None:
        fingerprint = self._fingerprints.get(bug_id)
        if fingerprint is None:
            fingerprint = fingerprints_of(self.es, self.names, [bug_id]).get(bug_id)
            if fingerprint is None:
                return None
            self._fingerprints[bug_id] = fingerprint
        found = self.es.mget(index=self.names.bugs, ids=[fingerprint])["docs"]
        return bug_doc_from_hit(found[0]) if found and found[0].get("found") else None

    @translated
    def bug_ids_by_fingerprint(self, fingerprints: Iterable[str]) -> dict[str, int]:
        return self._ids_of(set(fingerprints))

    def _ids_of(self, fingerprints: Iterable[str]) -> dict[str, int]:
        fps = list(fingerprints)
        if not fps:
            return {}
        found = self.es.mget(index=self.names.bugs, ids=fps, source_includes=["id"])["docs"]
        ids = {d["_id"]: int(d["_source"]["id"]) for d in found if d.get("found")}
        missing = [fp for fp in fps if fp not in ids]
        return {**aliases_of(self.es, self.names, missing), **ids}

    @translated
    def merge_bugs(self, target_id: int, bug_ids: Iterable[int], *, by: str | None = None) -> Bug:
        """See store.elasticsearch.merge for the steps, each safe to run again."""
        if self._bug_doc(target_id) is None:
            raise NotFound(f"bug {target_id} not found")
        todo: list[BugDoc] = []
        finish: list[int] = []
        for bug_id in dict.fromkeys(bug_ids):
            if bug_id == target_id:
                raise ValueError(f"bug {bug_id} cannot be merged into itself")
            todo_doc = self._mergeable(target_id, bug_id)
            if todo_doc is None:
                finish.append(bug_id)
            else:
                todo.append(todo_doc)
        for doc in todo:
            point_aliases(self.es, self.names, doc, target_id)
            fresh = self._bug_doc(doc.bug.id) or doc  # counts that arrived meanwhile
            take_counts(self.es, self.names, self._bug_doc, target_id, fresh, by)
            move_documents(self.es, self.names, doc.bug.id, target_id)
            drop_merged(self.es, self.names, doc)
            self._fingerprints.pop(doc.bug.id, None)
        # Merged before, or just now: move what a cut-short run left, or what an indexer that
        # read the aliases just before they changed stored under a merged id meanwhile.
        for bug_id in [*finish, *(doc.bug.id for doc in todo)]:
            move_documents(self.es, self.names, bug_id, target_id)
        merged = self.get_bug(target_id)
        assert merged is not None
        return merged

    def _mergeable(self, target_id: int, bug_id: int) -> BugDoc | None:
        """The bug to merge; None when it was merged into the target before (NotFound when it
        is unknown, Conflict when it is another project's)."""
        doc, target = self._bug_doc(bug_id), self._bug_doc(target_id)
        if doc is None:
            if merged_into(self.es, self.names, bug_id) == target_id:
                return None
            raise NotFound(f"bug {bug_id} not found")
        if target is not None and doc.bug.project_id != target.bug.project_id:
            raise Conflict(
                f"bug {bug_id} belongs to project {doc.bug.project_id!r}, bug {target_id} to "
                f"{target.bug.project_id!r}: only bugs of one project can be merged"
            )
        return doc

    @translated
    def merged_into(self, bug_id: int) -> int | None:
        return merged_into(self.es, self.names, bug_id)

    @translated
    def merged_fingerprints(self, bug_id: int) -> list[str]:
        return merged_fingerprints(self.es, self.names, bug_id)

    @translated
    def update_bug(
        self,
        bug_id: int,
        changes: Mapping[str, Any],
        *,
        expected_revision: int | None = None,
        history: StatusChange | None = None,
    ) -> Bug:
        check_bug_changes(changes)

        def attempt() -> Bug:
            doc = self._bug_doc(bug_id)
            if doc is None:
                raise NotFound(f"bug {bug_id} not found")
            if expected_revision is not None and doc.bug.revision != expected_revision:
                raise Conflict(
                    f"bug {bug_id} changed since it was read "
                    f"(revision {doc.bug.revision}, expected {expected_revision})"
                )
            data = doc.bug.model_dump(by_alias=True)
            data.update(changes)
            if history is not None:
                data["status_history"] = [*data["status_history"], history.dump()]
            data["revision"] = doc.bug.revision + 1
            if "updated_at" not in changes:
                data["updated_at"] = utcnow()
            bug = Bug.model_validate(data)
            # A count set by hand keeps `count = count_base + stored events` true.
            self._write_bug(doc, bug, doc.count_base + bug.count - doc.bug.count)
            return bug

        # A concurrent write makes the attempt re-read and check the revision again.
        return with_occ(f"bug {bug_id}", attempt)

    def _write_bug(self, doc: BugDoc, bug: Bug, count_base: int) -> None:
        """Replace the stored `doc` by `bug` (ConflictError when it changed since read)."""
        self.es.index(
            index=self.names.bugs,
            id=doc.fingerprint,
            document=doc.document(bug, count_base=count_base),
            if_seq_no=doc.seq_no,
            if_primary_term=doc.primary_term,
            refresh=True,
        )

    @translated
    def apply_occurrences(self, occurrences: Iterable[BugOccurrences]) -> None:
        """Counters from events stored elsewhere: added to count_base, so they persist."""
        for occ in occurrences:

            def attempt(occ: BugOccurrences = occ) -> None:
                doc = self._bug_doc(occ.bug_id)
                if doc is None:
                    return
                bug = doc.bug.model_copy(
                    update={
                        "count": doc.bug.count + occ.count,
                        "first_seen": min(doc.bug.first_seen, occ.first_seen),
                        "last_seen": max(doc.bug.last_seen, occ.last_seen),
                        "newest_version": newest_of(doc.bug.newest_version, occ.versions),
                    }
                )
                if occ.reopen and regresses(bug.status, bug.fixed_version, occ.versions):
                    now = utcnow()
                    changes = reopen_changes(bug, now)
                    bug = bug.model_copy(
                        update={**changes, "revision": bug.revision + 1, "updated_at": now}
                    )
                self._write_bug(doc, bug, doc.count_base + occ.count)

            with_occ(f"bug {occ.bug_id}", attempt)

    @translated
    def iter_bug_keys(self) -> Iterator[tuple[str, int, str, str | None]]:
        after: list[Any] | None = None
        while True:
            resp = self.es.search(
                index=self.names.bugs,
                size=1000,
                sort=[{"id": "asc"}],
                source_includes=["id", "status", "fixed_version"],
                search_after=after,
            )
            hits = resp["hits"]["hits"]
            for h in hits:
                found = h["_source"]
                yield h["_id"], int(found["id"]), str(found["status"]), found.get("fixed_version")
            if len(hits) < 1000:
                break
            after = hits[-1]["sort"]
        yield from alias_keys(self.es, self.names)

    @translated
    def max_bug_id(self) -> int:
        return max(self._max_stored_bug_id(), counter_value(self.es, self.names.meta, "bug_ids"))

    def _max_stored_bug_id(self) -> int:
        resp = self.es.search(index=self.names.bugs, size=0, aggs={"m": {"max": {"field": "id"}}})
        value = resp["aggregations"]["m"]["value"]
        return int(value) if value is not None else 0

    @translated
    def reserve_bug_ids(self, block: int) -> int:
        if block < 1:
            raise ValueError(f"reserve_bug_ids: block must be positive, not {block}")
        return next_counter(
            self.es, self.names.meta, "bug_ids", block, floor=self._max_stored_bug_id
        )

    # -- events ----------------------------------------------------------------------------
    @translated
    def add_events(
        self, events: list[Event], reopen_bug_ids: AbstractSet[int] = frozenset()
    ) -> list[BugOccurrences]:
        if not events:
            return []
        merged = aliases_of(self.es, self.names, (e.fingerprint for e in events))
        events, reopen_bug_ids = remap_merged(events, merged, reopen_bug_ids)
        new: list[Event] = []
        reopened: set[int] = set()
        touched: set[str] = set()
        for start in range(0, len(events), _BULK_CHUNK):
            chunk = events[start : start + _BULK_CHUNK]
            indices = {self.names.events_for(e.timestamp) for e in chunk}
            touched |= indices
            # Counters are read before the events are stored (see store.elasticsearch.counts).
            if len(self._fingerprints) > _FINGERPRINT_CACHE:
                self._fingerprints.clear()
            before = counters_of_events(self.es, self.names, chunk, self._fingerprints)
            created = self._create_events(chunk)
            ids = {e.id for e in created}
            conflicted = {e.bug_id for e in chunk if e.id not in ids}
            batch = Batch(chunk, created, reopen_bug_ids)
            refresh = functools.partial(self._refresh, indices)
            count_batch(self.es, self.names, batch, before, conflicted, refresh)
            new.extend(created)
            reopened |= batch.reopened
        if self.refresh:
            # One refresh for the whole call: events and counts are searchable when it returns.
            self._refresh({self.names.bugs, *touched})
        return occurrences_of(new, reopened)

    def _refresh(self, indices: Iterable[str]) -> None:
        self.es.indices.refresh(index=",".join(sorted(indices)))

    def _create_events(self, events: list[Event]) -> list[Event]:
        """Store `events` (without counting them); the ones not stored before."""
        ops: list[dict[str, Any]] = []
        for e in events:
            ops.append({"create": {"_index": self.names.events_for(e.timestamp), "_id": e.id}})
            ops.append(event_doc(e))
        results = bulk_conflicts(self.es, ops)
        # A conflict is an event stored before (a redelivery): it must not count again.
        return [e for e, (_, conflict) in zip(events, results, strict=True) if not conflict]

    @translated
    def get_events(
        self, bug_id: int, *, page: int = 1, size: int = 50, cursor: str | None = None
    ) -> EventPage:
        query = EventQuery(page=page, size=size, cursor=cursor)
        with query_errors("events"):
            return EventSearch(self.es, self.names, query).run(lq.Term("bug_id", bug_id))

    @translated
    def get_event(self, event_id: str) -> Event | None:
        # Events live in one index per day; their _id is the occurrence id.
        hits = self.es.search(
            index=self.names.events_pattern,
            query={"ids": {"values": [event_id]}},
            size=1,
            source_excludes=["tokens"],
        )["hits"]["hits"]
        return event_from_doc(hits[0]["_source"]) if hits else None

    @translated
    def purge_events(self, cutoffs: Cutoffs) -> dict[str, int]:
        return purge(self.es, self.names, cutoffs)

    # -- search ----------------------------------------------------------------------------
    @translated
    def search_bugs(self, query: BugQuery) -> BugPage:
        with query_errors("q"):
            return BugSearch(self.es, self.names, query).run()

    @translated
    def search_events(self, query: EventQuery) -> EventPage:
        with query_errors("q"):
            return EventSearch(self.es, self.names, query).run(None)

    # -- projects --------------------------------------------------------------------------
    @translated
    def ensure_project(
        self, project_id: str, *, repo_url: str | None = None, repo_url_warning: str | None = None
    ) -> Project:
        def change(project: Project) -> dict[str, Any]:
            return reported_repo_url(project, repo_url, repo_url_warning)

        initial = {"repo_url": repo_url or None, "repo_url_warning": repo_url_warning}
        return self._upsert_project(project_id, initial, change)

    @translated
    def get_project(self, project_id: str) -> Project | None:
        try:
            return project_from_doc(
                self.es.get(index=self.names.projects, id=project_id)["_source"]
            )
        except NotFoundError:
            return None

    @translated
    def get_project_by_number(self, number: int) -> Project | None:
        hits = self.es.search(index=self.names.projects, query={"term": {"id": number}}, size=1)[
            "hits"
        ]["hits"]
        return project_from_doc(hits[0]["_source"]) if hits else None

    @translated
    def list_projects(self) -> list[Project]:
        resp = self.es.search(index=self.names.projects, size=10000, sort=[{"project_id": "asc"}])
        return [project_from_doc(h["_source"]) for h in resp["hits"]["hits"]]

    @translated
    def update_project(self, project_id: str, changes: Mapping[str, Any]) -> Project:
        edit = project_edit(changes)
        return self._upsert_project(project_id, edit, lambda _: edit)

    def _upsert_project(self, project_id: str, initial: dict[str, Any], change: Any) -> Project:
        def attempt() -> Project:
            try:
                got = self.es.get(index=self.names.projects, id=project_id)
            except NotFoundError:
                now = utcnow()
                pid = next_counter(self.es, self.names.meta, "project_ids", 1)
                project = Project.model_validate(
                    {
                        **initial,
                        "id": pid,
                        "project_id": project_id,
                        "public_key": new_public_key(),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                self.es.create(
                    index=self.names.projects,
                    id=project_id,
                    refresh=True,
                    document=project.model_dump(mode="json"),
                )
                return project
            project = project_from_doc(got["_source"])
            updates = change(project)
            if not updates:
                return project
            project = Project.model_validate(
                {**project.model_dump(), **updates, "updated_at": utcnow()}
            )
            self._rewrite_project(got, project)
            return project

        return with_occ(f"project {project_id}", attempt)

    def _rewrite_project(self, got: Any, project: Project) -> None:
        """Replace the project document `got` (ConflictError when it changed since read)."""
        self.es.index(
            index=self.names.projects,
            id=project.project_id,
            refresh=True,
            document=project.model_dump(mode="json"),
            if_seq_no=got["_seq_no"],
            if_primary_term=got["_primary_term"],
        )

    @translated
    def set_project_toolchain(self, project_id: str, toolchain: ToolchainInfo) -> Project:
        def attempt() -> Project:
            try:
                got = self.es.get(index=self.names.projects, id=project_id)
            except NotFoundError:
                raise NotFound(f"project {project_id!r} not found") from None
            project = project_from_doc(got["_source"]).model_copy(update={"toolchain": toolchain})
            self._rewrite_project(got, project)
            return project

        return with_occ(f"project {project_id}", attempt)

    # -- saved searches ----------------------------------------------------------------------
    @translated
    def save_search(self, search: SavedSearchIn, search_id: int | None = None) -> SavedSearch:
        old = self.get_search(search_id) if search_id is not None else None
        if search_id is not None and old is None:
            raise NotFound(f"saved search {search_id} not found")
        named = self.es.search(
            index=self.names.searches, size=2, query={"term": {"name": search.name}}
        )["hits"]["hits"]
        if any(int(hit["_id"]) != search_id for hit in named):
            raise Conflict(f"a saved search is already named {search.name!r}")
        if old is None:
            search_id = next_counter(self.es, self.names.meta, "search_ids", 1)
        assert search_id is not None
        stored = saved_search(search, search_id, old.created_at if old else None)
        document = search_doc(stored)
        self.es.index(index=self.names.searches, id=str(search_id), refresh=True, document=document)
        return stored

    @translated
    def get_search(self, search_id: int) -> SavedSearch | None:
        try:
            got = self.es.get(index=self.names.searches, id=str(search_id))
        except NotFoundError:
            return None
        return search_from_doc(got["_source"])

    @translated
    def list_searches(self) -> list[SavedSearch]:
        found = self.es.search(
            index=self.names.searches, size=10_000, sort=[{"name": "asc"}, {"id": "asc"}]
        )
        return [search_from_doc(hit["_source"]) for hit in found["hits"]["hits"]]

    @translated
    def delete_search(self, search_id: int) -> bool:
        try:
            self.es.delete(index=self.names.searches, id=str(search_id), refresh=True)
        except NotFoundError:
            return False
        return True

    # -- repair reports --------------------------------------------------------------------
    @translated
    def add_repair_report(self, report: RepairReportIn) -> RepairReport:
        bug = self.get_bug(report.bug_id)
        if bug is None:
            raise NotFound(f"bug {report.bug_id} not found")
        rid = next_counter(self.es, self.names.meta, "repair_ids", 1)
        stored = RepairReport(
            **report.model_dump(), id=rid, project_id=bug.project_id, created_at=utcnow()
        )
        self.es.index(
            index=self.names.repairs,
            id=str(rid),
            refresh=True,
            document=stored.model_dump(mode="json"),
        )
        return stored

    @translated
    def list_repair_reports(
        self,
        *,
        bug_id: int | None = None,
        project_id: str | None = None,
        passed: bool | None = None,
        page: int = 1,
        size: int = 50,
    ) -> tuple[int, list[RepairReport]]:
        filters: list[dict[str, Any]] = []
        for field, value in (("bug_id", bug_id), ("project_id", project_id), ("passed", passed)):
            if value is not None:
                filters.append({"term": {field: value}})
        order = "asc" if bug_id is not None else "desc"
        sort = (
            [{"round": order}, {"id": order}]
            if bug_id is not None
            else [{"created_at": order}, {"id": order}]
        )
        resp = self.es.search(
            index=self.names.repairs,
            query={"bool": {"filter": filters}},
            sort=sort,
            from_=max(page - 1, 0) * size,
            size=size,
            track_total_hits=True,
        )
        items = [repair_from_doc(h["_source"]) for h in resp["hits"]["hits"]]
        return int(resp["hits"]["total"]["value"]), items
