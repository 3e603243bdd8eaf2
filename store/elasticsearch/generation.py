"""Index generations: an index whose layout changed is copied into a new, versioned one.

put_mapping only adds fields; a field whose definition changed (a stored-only text made
searchable) needs its documents indexed again, and the node may lack the reindex API. So the
documents are moved here, while the index stays in use:

1. the new generation is created empty under a name nothing reads (`<prefix>bugs_v4`,
   `<prefix>events_v4-<day>`: see mapping.IndexNames);
2. documents are copied in `_seq_no` order per shard, then again from where the last pass
   stopped (what was written or rewritten meanwhile), until little is left;
3. the source is write-blocked, the rest copied, and one alias action gives the new index the
   source's name (as an alias) and deletes the source.

Readers see one generation at every moment, so nothing is counted twice or missed. Writers meet
the block only for the last pass and the swap (a second or so): they get Unavailable and retry,
as when the node is briefly away. One process at a time copies an index: it holds a lease in
the meta index, renewed before every write and taken over by another once it goes stale.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import BadRequestError, ConflictError, Elasticsearch, NotFoundError

from store.elasticsearch.client import bulk_conflicts
from store.elasticsearch.mapping import BUGS_GENERATION, EVENTS_GENERATION, IndexNames
from store.errors import StoreError, Unavailable

_PAGE = 1000
#: Copy passes run until one moves at most this many documents (or _PASSES ran); the rest is
#: copied under the write block.
_REST = 2000
_PASSES = 5
#: A lease not renewed for this long belongs to a process that died: another may take it over.
LEASE_STALE_S = 60.0
#: How long init waits for another process copying the bugs before it gives up.
BUGS_WAIT_S = 900.0


class LeaseLost(StoreError):
    """Another process took the lease over (this one was silent too long): stop copying."""


class Lease:
    """A lock shared through the meta index: one document holding its holder's last heartbeat
    (epoch milliseconds), written under optimistic concurrency."""

    def __init__(self, es: Elasticsearch, index: str, name: str) -> None:
        self.es = es
        self.index = index
        self.name = name
        self._held: tuple[int, int] | None = None

    def acquire(self) -> bool:
        """Take the lease if it is free or stale; False when a live process holds it."""
        now = _now_ms()
        try:
            written = self.es.create(index=self.index, id=self.name, document={"value": now})
        except ConflictError:
            got = self.es.get(index=self.index, id=self.name)
            if now - int(got["_source"]["value"]) < LEASE_STALE_S * 1000:
                return False
            try:
                written = self._write(now, (int(got["_seq_no"]), int(got["_primary_term"])))
            except ConflictError:
                return False
        self._held = (int(written["_seq_no"]), int(written["_primary_term"]))
        return True

    def renew(self) -> None:
        """Say this holder is alive; LeaseLost when another process has taken the lease."""
        if self._held is None:
            raise LeaseLost(f"{self.name}: not held")
        try:
            written = self._write(_now_ms(), self._held)
        except ConflictError:
            self._held = None
            raise LeaseLost(f"{self.name}: taken over by another process") from None
        self._held = (int(written["_seq_no"]), int(written["_primary_term"]))

    def release(self) -> None:
        if self._held is None:
            return
        seq_no, term = self._held
        self._held = None
        self.es.options(ignore_status=(404, 409)).delete(
            index=self.index, id=self.name, if_seq_no=seq_no, if_primary_term=term
        )

    def _write(self, value: int, held: tuple[int, int]) -> Any:
        return self.es.index(
            index=self.index,
            id=self.name,
            document={"value": value},
            if_seq_no=held[0],
            if_primary_term=held[1],
        )


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Copy:
    """Copy `source` into the empty index `target`, then put `target` in its place."""

    es: Elasticsearch
    source: str
    target: str
    #: Called before every write into the target (the lease's renew).
    before_write: Callable[[], None]
    #: Called after every batch with the documents copied so far.
    progress: Callable[[int], None] = lambda copied: None
    page: int = _PAGE
    copied: int = 0
    _marks: dict[int, int] = field(default_factory=dict)

    def run(self, aliases: dict[str, dict[str, Any]]) -> None:
        """Copy, then in one alias action give `target` the `aliases` and delete `source`."""
        settings = self.es.indices.get_settings(index=self.source, name="index.number_of_shards")
        shards = int(settings[self.source]["settings"]["index"]["number_of_shards"])
        self._marks = {shard: -1 for shard in range(shards)}
        for _ in range(_PASSES):
            if self._pass() <= _REST:
                break
        self.es.indices.add_block(index=self.source, block="write")
        try:
            self._pass()
            self._drop_deleted()
            actions: list[dict[str, Any]] = [
                {"add": {"index": self.target, "alias": alias, **options}}
                for alias, options in aliases.items()
            ]
            actions.append({"remove_index": {"index": self.source}})
            self.es.indices.update_aliases(actions=actions)
        except BaseException:
            unblock(self.es, self.source)
            raise

    def _pass(self) -> int:
        """Copy every document written since the last pass; how many were copied."""
        self.es.indices.refresh(index=self.source)
        moved = 0
        for shard in self._marks:
            while True:
                hits = self.es.search(
                    index=self.source,
                    preference=f"_shards:{shard}",
                    query={"range": {"_seq_no": {"gt": self._marks[shard]}}},
                    sort=[{"_seq_no": "asc"}],
                    size=self.page,
                    seq_no_primary_term=True,
                )["hits"]["hits"]
                if not hits:
                    break
                self.before_write()
                operations: list[dict[str, Any]] = []
                for hit in hits:
                    operations += [
                        {"index": {"_index": self.target, "_id": hit["_id"]}},
                        hit["_source"],
                    ]
                bulk_conflicts(self.es, operations)
                self._marks[shard] = int(hits[-1]["_seq_no"])
                moved += len(hits)
                self.copied += len(hits)
                self.progress(self.copied)
                if len(hits) < self.page:
                    break
        return moved

    def _drop_deleted(self) -> None:
        """Delete from the target what left the source while it was copied (retention purging
        the day being copied): rare, so looked for only when the counts differ."""
        self.es.indices.refresh(index=f"{self.source},{self.target}")
        if self._counts_match():
            return
        for ids in _ids(self.es, self.target, self.page):
            kept = self.es.search(
                index=self.source, query={"ids": {"values": ids}}, size=len(ids), source=False
            )["hits"]["hits"]
            gone = set(ids) - {hit["_id"] for hit in kept}
            if gone:
                self.before_write()
                self.es.bulk(
                    operations=[{"delete": {"_index": self.target, "_id": i}} for i in gone]
                )
        self.es.indices.refresh(index=self.target)
        if not self._counts_match():
            raise StoreError(f"{self.source}: the copy in {self.target} does not match it")

    def _counts_match(self) -> bool:
        counts = [int(self.es.count(index=i)["count"]) for i in (self.source, self.target)]
        return counts[0] == counts[1]


def _ids(es: Elasticsearch, index: str, page: int) -> Iterator[list[str]]:
    """Every document id of `index`, a page at a time (a scroll: a consistent view)."""
    resp = es.search(index=index, scroll="2m", size=page, source=False, sort=["_doc"])
    try:
        while resp["hits"]["hits"]:
            yield [hit["_id"] for hit in resp["hits"]["hits"]]
            resp = es.scroll(scroll_id=resp["_scroll_id"], scroll="2m")
    finally:
        es.options(ignore_status=404).clear_scroll(scroll_id=resp["_scroll_id"])


def unblock(es: Elasticsearch, index: str) -> None:
    """Lift a write block a copy set (or left behind when its process died)."""
    es.options(ignore_status=404).indices.put_settings(
        index=index, settings={"index.blocks.write": None}
    )


def _create(es: Elasticsearch, index: str, aliases: dict[str, Any] | None = None) -> bool:
    """Create `index` from its template; False when it (or an index named as an alias) exists."""
    try:
        es.indices.create(index=index, aliases=aliases, wait_for_active_shards="1")
    except BadRequestError as exc:
        if exc.error not in ("resource_already_exists_exception", "invalid_alias_name_exception"):
            raise
        return False
    return True


def add_missing_fields(es: Elasticsearch, patterns: list[str], mapping: dict[str, Any]) -> None:
    """Give indices made by an older template the fields they lack. An index that then has the
    whole mapping is marked with its version (`_meta`); one with a field whose definition
    changed keeps its old mark until it is copied into a new generation."""
    found = es.indices.get_mapping(
        index=",".join(patterns), allow_no_indices=True, ignore_unavailable=True
    )
    for index, body in found.items():
        have = body["mappings"].get("properties", {})
        missing, complete = _missing(have, mapping["properties"])
        meta = {"meta": mapping["_meta"]} if complete else {}
        if missing or meta:
            es.indices.put_mapping(index=index, properties=missing, **meta)


def _missing(have: dict[str, Any], want: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The properties of `want` absent from `have`, and whether all the others match."""
    out: dict[str, Any] = {}
    complete = True
    for name, spec in want.items():
        current = have.get(name)
        if current is None:
            out[name] = spec
        elif "properties" in spec and "properties" in current:
            inner, inner_complete = _missing(current["properties"], spec["properties"])
            if inner:
                out[name] = {"properties": inner}
            complete = complete and inner_complete
        elif not spec.items() <= current.items():
            complete = False
    return out, complete


# -- bugs: copied at init ----------------------------------------------------------------------


def ensure_bugs(es: Elasticsearch, names: IndexNames) -> None:
    """Make `names.bugs` the alias of the current bugs generation: create it on a new install,
    or copy the bugs of an older one into it (before template 4, a plain index of that name).
    Processes starting together wait while one of them copies."""
    deadline = time.monotonic() + BUGS_WAIT_S
    while True:
        current = _resolve(es, names.bugs)
        if current is None:
            alias = {names.bugs: {"is_write_index": True}}
            if not _create(es, names.bugs_generation, alias) and _resolve(es, names.bugs) is None:
                # The generation exists but lost its name (removed by hand): give it back.
                es.indices.put_alias(
                    index=names.bugs_generation, name=names.bugs, is_write_index=True
                )
            continue
        if _generation(current, names.bugs) >= BUGS_GENERATION:
            return
        lease = Lease(es, names.meta, "lease-bugs")
        if lease.acquire():
            try:
                # Checked again under the lease: another process may have finished meanwhile.
                if _resolve(es, names.bugs) == current:
                    _copy_bugs(es, names, current, lease)
            finally:
                lease.release()
            continue
        if time.monotonic() > deadline:
            raise Unavailable("bugs: still being copied into a new generation by another process")
        time.sleep(0.5)


def _copy_bugs(es: Elasticsearch, names: IndexNames, source: str, lease: Lease) -> None:
    target = names.bugs_generation
    es.options(ignore_status=404).indices.delete(index=target)  # from a copier that died
    unblock(es, source)
    _create(es, target)
    _distinct_terms(es, source, target)
    Copy(es, source, target, before_write=lease.renew).run({names.bugs: {"is_write_index": True}})


def _distinct_terms(es: Elasticsearch, source: str, target: str) -> None:
    """Raise every primary term of `target` above all of `source`'s (reopening bumps them), so
    a writer holding a bug's seq_no and term from the source conflicts in the target instead
    of overwriting a newer copy that happens to carry the same seq_no."""
    highest = max(_terms(es, source))
    while min(_terms(es, target)) <= highest:
        es.indices.close(index=target)
        es.indices.open(index=target, wait_for_active_shards="all")


def _terms(es: Elasticsearch, index: str) -> list[int]:
    state = es.cluster.state(metric="metadata", index=index)
    return [int(t) for t in state["metadata"]["indices"][index]["primary_terms"].values()]


def _resolve(es: Elasticsearch, name: str) -> str | None:
    """The index `name` is (or is an alias of); None when there is none."""
    try:
        found = list(es.indices.get(index=name, features="aliases"))
    except NotFoundError:
        return None
    if len(found) != 1:
        raise StoreError(f"{name}: names {len(found)} indices, expected one")
    return found[0]


def _generation(index: str, base: str) -> int:
    """The generation in a versioned index name (0 for the unversioned layout)."""
    found = re.search(r"_v(\d+)(?:-|$)", index.removeprefix(base))
    return int(found[1]) if found else 0


# -- events: copied by `logcenter es-reindex` --------------------------------------------------


@dataclass(frozen=True)
class DayProgress:
    """Where a reindex of the events stands: day `position` of `days`, documents copied."""

    day: datetime
    index: str
    position: int
    days: int
    copied: int
    total: int


def stale_days(es: Elasticsearch, names: IndexNames) -> list[tuple[str, datetime, int]]:
    """The daily events indices made before the current generation, newest day first:
    (index, day, documents)."""
    found = es.indices.get_mapping(index=names.events_pattern, allow_no_indices=True)
    out: list[tuple[str, datetime, int]] = []
    for index, body in found.items():
        day = names.day_of(index)
        version = int(body["mappings"].get("_meta", {}).get("logcenter_version", 0))
        if day is not None and version < EVENTS_GENERATION:
            out.append((index, day, int(es.count(index=index)["count"])))
    return sorted(out, key=lambda stale: stale[1], reverse=True)


def reindex_events(
    es: Elasticsearch,
    names: IndexNames,
    progress: Callable[[DayProgress], None] = lambda p: None,
    page: int = _PAGE,
) -> int:
    """Copy every day of events stored before the current generation into it, newest first,
    while the store stays in use; the number of days copied. Safe to interrupt and run again."""
    lease = Lease(es, names.meta, "lease-events")
    if not lease.acquire():
        raise StoreError(
            "events: another reindex is running (its lease was renewed in the last minute)"
        )
    try:
        _drop_abandoned(es, names)
        days = stale_days(es, names)
        for position, (index, day, total) in enumerate(days, 1):
            start = DayProgress(day, index, position, len(days), 0, total)
            progress(start)
            report = functools.partial(_advance, progress, start)
            _copy_day(es, names, index, day, lease, report, page)
        return len(days)
    finally:
        lease.release()


def _advance(progress: Callable[[DayProgress], None], start: DayProgress, copied: int) -> None:
    progress(dataclasses.replace(start, copied=copied))


def _copy_day(
    es: Elasticsearch,
    names: IndexNames,
    index: str,
    day: datetime,
    lease: Lease,
    report: Callable[[int], None],
    page: int,
) -> None:
    target = names.events_generation(day)
    unblock(es, index)
    _create(es, target)
    copy = Copy(es, index, target, before_write=lease.renew, progress=report, page=page)
    try:
        copy.run({names.events_for(day): {"is_write_index": True}})
    except NotFoundError:
        # Retention deleted the day meanwhile: its copy goes too.
        es.options(ignore_status=404).indices.delete(index=target)


def _drop_abandoned(es: Elasticsearch, names: IndexNames) -> None:
    """Delete generations a reindex left half-copied (not yet named as their day)."""
    found = es.indices.get(
        index=names.events_generations, features="aliases", allow_no_indices=True
    )
    for index, body in found.items():
        day = names.day_of(index)
        if day is not None and names.events_for(day) not in body.get("aliases", {}):
            es.indices.delete(index=index)


def describe(progress: DayProgress) -> str:
    """One line saying where a reindex stands."""
    day = f"{progress.day:%Y-%m-%d}"
    copied = min(progress.copied, progress.total)
    share = f" ({copied / progress.total:.0%})" if progress.total else ""
    return (
        f"day {progress.position}/{progress.days} ({day}, {progress.index}): "
        f"{copied:,} of {progress.total:,} occurrences{share}"
    )
