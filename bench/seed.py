"""A seeded search data set at scale: N events over M bugs and P projects, fed to a store with
its own bulk methods (`create_bugs`, then `add_events` in large batches).

Occurrences follow a Zipf-like spread (a few bugs very frequent, a long tail); messages are
English and Chinese (bench/corpus.py); events span `DAYS` days up to `end`. The same seed and
sizes always give the same data, so both backends hold the same thing.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.corpus import (
    ENVIRONMENTS,
    LEVELS,
    MESSAGES,
    SOURCES,
    STATUS_CHANGES,
    VERSIONS,
    source_file,
    stack_trace,
)
from store.base import Store
from store.models import BugCreate, Event

DAYS = 14
_TEAMS = ("rtc", "airhub", "shop", "pay", "crm", "iam", "maps", "chat", "media", "ops")
_KINDS = ("backend", "web", "app", "worker", "ci")
_CLIENT_OF = {"web": "javascript", "app": "dart"}
_MODULES = ("users", "orders", "payments", "auth", "cart", "search", "reports", "profile",
            "inventory", "notify", "billing", "upload")


@dataclass
class Spec:
    events: int
    bugs: int
    projects: int
    end: datetime
    seed: int = 20261128

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=DAYS)


def projects(n: int) -> list[str]:
    names = [f"{team}_{kind}" for kind, team in itertools.product(_KINDS, _TEAMS)]
    return names[:n] if n <= len(names) else [f"svc_{i:03d}" for i in range(n)]


def bugs(spec: Spec) -> list[BugCreate]:
    rng = random.Random(spec.seed)
    names = projects(spec.projects)
    out = []
    for bug_id in range(1, spec.bugs + 1):
        project = rng.choice(names)
        client = _CLIENT_OF.get(project.rsplit("_", 1)[-1], "python")
        error_type, message = rng.choice(MESSAGES)
        module = rng.choice(_MODULES)
        file_path = source_file(rng, client, module)
        line = rng.randint(1, 900)
        message = f"{message} (code {rng.randint(100, 999)})"
        out.append(BugCreate.model_construct(
            id=bug_id, fingerprint=f"bench-{bug_id:07d}", project_id=project,
            source=rng.choice(SOURCES), environment=rng.choice(ENVIRONMENTS),
            level=rng.choice(LEVELS), error_type=error_type, message=message,
            file_path=file_path, line_number=line,
            stack_trace=stack_trace(rng, client, error_type, message, file_path, line),
            context={"module": module}, version=rng.choice(VERSIONS),
            commit_hash=f"{rng.getrandbits(40):010x}", first_seen=spec.start))
    return out


def weights(spec: Spec) -> list[float]:
    """Cumulative Zipf weights (exponent 1) over bugs in a shuffled order."""
    rng = random.Random(spec.seed + 1)
    ranks = list(range(spec.bugs))
    rng.shuffle(ranks)
    return list(itertools.accumulate(1.0 / (r + 1) for r in ranks))


def by_frequency(spec: Spec) -> list[int]:
    """Bug ids, the most frequent first (by their share of the events)."""
    cum = weights(spec)
    order = sorted(range(spec.bugs), key=lambda r: cum[r] - (cum[r - 1] if r else 0.0),
                   reverse=True)
    return [r + 1 for r in order]


def event_batches(spec: Spec, all_bugs: list[BugCreate], batch: int) -> Iterator[list[Event]]:
    rng = random.Random(spec.seed + 2)
    cum = weights(spec)
    span = DAYS * 86400
    start = spec.start.timestamp()
    for first in range(0, spec.events, batch):
        n = min(batch, spec.events - first)
        picked = rng.choices(all_bugs, cum_weights=cum, k=n)
        out = []
        for k, bug in enumerate(picked, first):
            at = start + rng.random() * span
            out.append(Event.model_construct(
                id=f"{int(at * 1000)}-{k}", bug_id=bug.id, fingerprint=bug.fingerprint,
                timestamp=datetime.fromtimestamp(at, spec.end.tzinfo),
                project_id=bug.project_id, environment=rng.choice(ENVIRONMENTS),
                level=bug.level, source=bug.source, version=rng.choice(VERSIONS),
                commit_hash=bug.commit_hash, error_type=bug.error_type, message=bug.message,
                file_path=bug.file_path, line_number=bug.line_number,
                context={"request_id": f"req_{k}"}, stack_trace=bug.stack_trace))
        yield out


def seed(store: Store, spec: Spec, batch: int = 20_000, progress: bool = True) -> float:
    """Fill `store`; return the seconds it took."""
    started = time.monotonic()
    register_projects(store, spec)
    all_bugs = bugs(spec)
    for i in range(0, len(all_bugs), 5000):
        store.create_bugs(all_bugs[i:i + 5000])
    done = 0
    for events in event_batches(spec, all_bugs, batch):
        store.add_events(events)
        done += len(events)
        if progress:
            rate = done / (time.monotonic() - started)
            print(f"\r  {done:,}/{spec.events:,} events ({rate:,.0f}/s)", end="", flush=True)
    _status_changes(store, spec)
    if progress:
        print()
    return time.monotonic() - started


def register_projects(store: Store, spec: Spec) -> None:
    """The projects, as their first reports would have registered them (idempotent)."""
    for project_id in projects(spec.projects):
        store.ensure_project(project_id)


def _status_changes(store: Store, spec: Spec) -> None:
    """Some bugs move through the workflow, so status facets and filters have something to do."""
    rng = random.Random(spec.seed + 3)
    scale = max(1, min(spec.bugs // 1200, 12))  # at most ~500 changes: each is one write
    ids = iter(rng.sample(range(1, spec.bugs + 1), min(spec.bugs, 300 * scale)))
    for status, n in STATUS_CHANGES:
        for bug_id in itertools.islice(ids, n * scale // 2):
            changes = {"status": status}
            if status == "FIX_FAILED":
                changes["failure_reason"] = "tests still fail after 3 rounds"
            store.update_bug(bug_id, changes)
