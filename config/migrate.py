"""`logcenter migrate`: copy a whole install from one store to another and prove it arrived.

Every kind of record (store.record.KINDS) is read from the source in batches and written to the
target as it is (Store.export_records / import_records): bug ids, fingerprints, counts, statuses
and history, occurrences, repair reports, projects with their keys and settings, saved searches,
alert channels, rules and deliveries, and the highest reserved bug id.

After every batch written, the kind and position reached go to a small JSON state file, so a
run that was interrupted carries on where it stopped when started again; a batch written twice
(stopped after the write, before the state was saved) replaces the same records, so nothing is
ever duplicated. At the end both stores are read again and compared: totals per kind, every
bug's count, and a sample of records field by field.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from config.progress import Meter, plain
from store.base import Store
from store.record import KINDS, Record, normalized
from store.search import BugQuery, EventQuery

Progress = Callable[[str], None]
#: The field naming each kind's records (the reservation is a single record).
_KEYS = {kind: "id" for kind in KINDS} | {
    "bug_id_reservation": "max_bug_id",
    "bug_aliases": "merged_id",
}
#: Kinds compared one record in `sample_every` (the rest are compared whole).
_SAMPLED = frozenset({"bugs", "events"})
_SHOWN = 5


class MigrateError(Exception):
    """A migration that cannot start or go on; the message says why and what to do."""


@dataclass
class State:
    """Where a migration stands: kinds finished, the kind under way and its position."""

    source: str
    target: str
    done: list[str] = field(default_factory=list)
    kind: str | None = None
    after: str | None = None
    copied: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, source: str, target: str) -> State | None:
        if not path.exists():
            return None
        data = orjson.loads(path.read_bytes())
        if (data.get("source"), data.get("target")) != (source, target):
            raise MigrateError(
                f"{path} belongs to a migration from {data.get('source')} to "
                f"{data.get('target')}: remove it, or pass another --state"
            )
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write aside and rename, so an interruption never leaves half a state file."""
        aside = path.with_name(f".{path.name}.tmp")
        aside.write_bytes(orjson.dumps(self.__dict__, option=orjson.OPT_INDENT_2))
        os.replace(aside, path)


@dataclass
class KindCheck:
    """One kind compared between the stores."""

    kind: str
    source_total: int
    target_total: int
    compared: int
    problems: list[str] = field(default_factory=list)


@dataclass
class Verification:
    checks: list[KindCheck]

    @property
    def ok(self) -> bool:
        return all(not c.problems for c in self.checks)


class Stopped(Exception):
    """The run stopped after the batches it was allowed (`max_batches`); run it again."""


def copy_all(
    source: Store,
    target: Store,
    state: State,
    state_path: Path,
    *,
    batch: int = 500,
    max_batches: int | None = None,
    meter: Meter | None = None,
) -> State:
    """Copy every kind not done yet, resuming `state`; raise Stopped after `max_batches`.

    `meter` shows each kind's progress (default: plain lines on stdout)."""
    meter = meter or plain()
    batches = 0
    for kind in KINDS:
        if kind in state.done:
            continue
        if state.kind != kind:
            state.kind, state.after = kind, None
        copied = state.copied.get(kind, 0)
        shown = meter(kind, total(source, kind), copied)
        try:
            while True:
                if max_batches is not None and batches >= max_batches:
                    state.save(state_path)
                    raise Stopped(f"stopped after {batches} batches")
                records, after = source.export_records(kind, state.after, batch)
                target.import_records(kind, records)
                batches += 1
                copied += len(records)
                state.after, state.copied[kind] = after, copied
                if after is None:
                    state.done.append(kind)
                    state.kind = state.after = None
                state.save(state_path)
                shown.update(copied)
                if after is None:
                    break
        finally:
            shown.close()
    return state


#: Kind -> how many records a store holds of it, from what the store counts anyway.
_TOTALS: dict[str, Callable[[Store], int]] = {
    "projects": lambda store: len(store.list_projects()),
    "bugs": lambda store: store.search_bugs(BugQuery(size=0)).total,
    "events": lambda store: store.search_events(EventQuery(size=0)).total,
    "repair_reports": lambda store: store.list_repair_reports(size=0)[0],
    "saved_searches": lambda store: len(store.list_searches()),
    "alert_channels": lambda store: len(store.list_alert_channels()),
    "alert_rules": lambda store: len(store.list_alert_rules()),
    "bug_id_reservation": lambda store: 1,
}


def total(store: Store, kind: str) -> int | None:
    """The records of `kind` in `store`, or None when the store has no cheap count of them
    (alert deliveries are listed a page at a time)."""
    count = _TOTALS.get(kind)
    return None if count is None else count(store)


def _scan(
    store: Store, kind: str, batch: int, wanted: Callable[[Any], bool]
) -> tuple[int, dict[Any, Record], dict[int, int]]:
    """(total, {key: record} of the wanted keys, {bug id: count} for bugs) of one store."""
    total, picked, counts = 0, {}, {}
    after: str | None = None
    while True:
        records, after = store.export_records(kind, after, batch)
        total += len(records)
        for record in records:
            key = record[_KEYS[kind]]
            if wanted(key):
                picked[key] = normalized(kind, record)
            if kind == "bugs":
                counts[record["id"]] = record["count"]
        if after is None:
            return total, picked, counts


def _differences(kind: str, key: Any, mine: Record, theirs: Record | None) -> list[str]:
    if theirs is None:
        return [f"{kind} {key}: missing from the target"]
    fields = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    return [f"{kind} {key}: {name} {mine.get(name)!r} != {theirs.get(name)!r}" for name in fields]


def check_kind(
    source: Store, target: Store, kind: str, *, batch: int = 500, sample_every: int = 10
) -> KindCheck:
    """Compare one kind: totals, each bug's count, and the sampled records field by field."""
    every = sample_every if kind in _SAMPLED else 1

    def wanted(key: Any) -> bool:
        return zlib.crc32(str(key).encode()) % every == 0

    src_total, src, src_counts = _scan(source, kind, batch, wanted)
    if kind == "bug_id_reservation":
        dst_total, dst, _ = _scan(target, kind, batch, lambda key: True)
        mine, theirs = next(iter(src), 0), next(iter(dst), 0)
        check = KindCheck(kind, src_total, dst_total, len(src))
        if theirs < mine:
            check.problems.append(f"highest reserved bug id {theirs} < the source's {mine}")
        return check
    dst_total, dst, dst_counts = _scan(target, kind, batch, lambda key: key in src)
    check = KindCheck(kind, src_total, dst_total, len(src))
    if src_total != dst_total:
        check.problems.append(f"{kind}: {dst_total:,} in the target, {src_total:,} in the source")
    for bug_id, count in src_counts.items():
        if dst_counts.get(bug_id) != count:
            check.problems.append(f"bug {bug_id}: count {dst_counts.get(bug_id)} != {count}")
    for key, record in src.items():
        check.problems.extend(_differences(kind, key, record, dst.get(key)))
    return check


def verify(
    source: Store, target: Store, *, batch: int = 500, sample_every: int = 10
) -> Verification:
    return Verification(
        [check_kind(source, target, kind, batch=batch, sample_every=sample_every) for kind in KINDS]
    )


def report(verification: Verification, progress: Progress = print) -> None:
    """One line per kind, then the first problems of each kind that has some."""
    for c in verification.checks:
        verdict = "ok" if not c.problems else f"{len(c.problems)} MISMATCHES"
        progress(
            f"verify {c.kind}: {c.source_total:,} in source, {c.target_total:,} in target, "
            f"{c.compared:,} compared field by field: {verdict}"
        )
        for problem in c.problems[:_SHOWN]:
            progress(f"  {problem}")
        if len(c.problems) > _SHOWN:
            progress(f"  ... and {len(c.problems) - _SHOWN} more")


def start(source: Store, target: Store, state_path: Path, urls: tuple[str, str]) -> State:
    """The state to go on from: the saved one, or a new one for an empty target."""
    state = State.load(state_path, *urls)
    if state is not None:
        return state
    if target.export_records("bugs", None, 1)[0] or target.export_records("projects", None, 1)[0]:
        raise MigrateError(
            f"the target {urls[1]} already holds bugs or projects: migrate into an empty store"
        )
    return State(*urls)
