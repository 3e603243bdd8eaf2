"""A seeded, deterministic data set for store tests: bugs, their events and status changes.

The same seed always yields the same bugs, events and updates, so two backends seeded from one
`Dataset` must answer every query alike (tests/store/test_parity.py). Messages and field values
come from bench/corpus.py, which the search benchmark's data set draws from too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench.corpus import BASE_MESSAGES, ENVIRONMENTS, LEVELS, SOURCES, STATUS_CHANGES, VERSIONS
from store.base import Store
from store.models import BugCreate, Event

START = datetime(2024, 5, 1, tzinfo=UTC)
DAYS = 10

PROJECTS = ("shop-api", "shop-web", "pay-svc", "user-svc", "mobile-app", "ci-pipeline")
MODULES = ("orders", "payments", "users", "cache", "auth", "reports")


@dataclass
class Dataset:
    bugs: list[BugCreate]
    events: list[Event]
    #: (bug id, new status) applied after the events.
    status_changes: list[tuple[int, str]] = field(default_factory=list)

    def seed(self, store: Store, batch: int = 500) -> None:
        store.create_bugs(self.bugs)
        for start in range(0, len(self.events), batch):
            store.add_events(self.events[start:start + batch])
        for bug_id, status in self.status_changes:
            changes = {"status": status}
            if status == "FIX_FAILED":
                changes["failure_reason"] = "tests still fail after 3 rounds"
            store.update_bug(bug_id, changes)


def generate(seed: int = 20241128, n_bugs: int = 300, n_events: int = 5000) -> Dataset:
    rng = random.Random(seed)
    bugs = [_bug(rng, bug_id) for bug_id in range(1, n_bugs + 1)]
    # A skewed spread: a few bugs happen a lot, most rarely (as in real error streams).
    weights = [1 / (rank + 1) ** 0.8 for rank in range(n_bugs)]
    rng.shuffle(weights)
    chosen = rng.choices(bugs, weights=weights, k=n_events)
    events = [_event(rng, n, bug) for n, bug in enumerate(chosen)]
    seen: dict[int, datetime] = {}
    for e in events:
        seen[e.bug_id] = min(seen.get(e.bug_id, e.timestamp), e.timestamp)
    bugs = [b.model_copy(update={"first_seen": seen.get(b.id, b.first_seen)}) for b in bugs]
    order = rng.sample([b.id for b in bugs], sum(n for _, n in STATUS_CHANGES))
    changes: list[tuple[int, str]] = []
    for status, n in STATUS_CHANGES:
        changes.extend((bug_id, status) for bug_id in order[:n])
        order = order[n:]
    return Dataset(bugs, events, changes)


def _bug(rng: random.Random, bug_id: int) -> BugCreate:
    error_type, template = rng.choice(BASE_MESSAGES)
    module = rng.choice(MODULES)
    line = rng.randint(1, 400)
    file_path = f"src/{module}/handler.py" if rng.random() < 0.7 else f"lib/{module}_utils.py"
    message = f"{template} (code {rng.randint(100, 999)})"
    stack = ["Traceback (most recent call last):",
             f'  File "{file_path}", line {line}, in {rng.choice(("handle", "run", "load"))}',
             f"    {rng.choice(('result = fetch(key)', 'conn.execute(sql)', 'pay(order)'))}",
             f"{error_type}: {message}"]
    return BugCreate(
        id=bug_id, fingerprint=f"fp-{bug_id:04d}", project_id=rng.choice(PROJECTS),
        source=rng.choice(SOURCES), environment=rng.choice(ENVIRONMENTS),
        level=rng.choice(LEVELS), error_type=error_type, message=message, file_path=file_path,
        line_number=line, stack_trace=stack, context={"module": module},
        version=rng.choice(VERSIONS), commit_hash=f"{rng.getrandbits(40):010x}",
        first_seen=START,
    )


def _event(rng: random.Random, n: int, bug: BugCreate) -> Event:
    at = START + timedelta(seconds=rng.randrange(DAYS * 86400))
    return Event(
        id=f"{int(at.timestamp() * 1000)}-{n}", bug_id=bug.id, fingerprint=bug.fingerprint,
        timestamp=at, project_id=bug.project_id, environment=rng.choice(ENVIRONMENTS),
        level=bug.level, source=bug.source, version=rng.choice(VERSIONS),
        commit_hash=bug.commit_hash, error_type=bug.error_type, message=bug.message,
        file_path=bug.file_path, line_number=bug.line_number, context={"n": n},
        stack_trace=bug.stack_trace,
    )
