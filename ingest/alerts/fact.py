"""The alert stream's entry, said once: a fact recorded about a bug (new, regression, occurrences,
repair finished or failed), appended where it is recorded and read by the deliverer.

Appending never fails or holds up its caller: a Redis error is logged and the fact dropped
(ingestion matters more than one alert). Frequency facts, one per bug per indexed batch, are
appended only while a rule asks for them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from store.alert import AlertRule, Trigger
from store.models import Bug, BugOccurrences
from store.vocabulary import Status

log = logging.getLogger("logcenter.alerts")

_TRIGGER = b"t"
_BUG = b"b"
_COUNT = b"c"
_AT = b"a"


@dataclass(frozen=True)
class Fact:
    trigger: Trigger
    bug_id: int
    #: Occurrences the fact stands for (frequency facts); 0 for the others.
    count: int = 0
    #: When it was recorded (epoch seconds).
    at: float = 0.0

    def fields(self) -> dict[bytes, bytes]:
        return {
            _TRIGGER: self.trigger.value.encode(),
            _BUG: str(self.bug_id).encode(),
            _COUNT: str(self.count).encode(),
            _AT: repr(self.at or time.time()).encode(),
        }

    @classmethod
    def decode(cls, fields: dict[bytes, bytes]) -> Fact:
        return cls(
            trigger=Trigger(fields[_TRIGGER].decode()),
            bug_id=int(fields[_BUG]),
            count=int(fields.get(_COUNT, b"0")),
            at=float(fields.get(_AT, b"0")),
        )


def stream_key(prefix: str) -> str:
    return f"{prefix}alerts"


def append(redis: Redis, prefix: str, facts: Iterable[Fact], maxlen: int = 100_000) -> int:
    """Append `facts` to the alert stream in one round trip; the number appended (0 on error)."""
    facts = list(facts)
    if not facts:
        return 0
    pipe = redis.pipeline(transaction=False)
    for fact in facts:
        pipe.xadd(stream_key(prefix), fact.fields(), maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
    try:
        pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("alerts: %d facts not appended: %s", len(facts), exc)
        return 0
    return len(facts)


def status_fact(bug: Bug) -> Fact | None:
    """The fact a status change records, if it is one alerts are about."""
    trigger = {Status.FIXED: Trigger.REPAIR_FINISHED, Status.FIX_FAILED: Trigger.REPAIR_FAILED}
    found = trigger.get(bug.status)
    return None if found is None else Fact(found, bug.id, at=time.time())


class WantedTriggers:
    """Which triggers some enabled rule asks for, re-read from the store every `ttl` seconds.

    The indexer asks before computing frequency facts, so an install without such rules pays
    nothing per batch. When the store cannot be read the last answer stands.
    """

    def __init__(self, rules: Callable[[], list[AlertRule]], ttl: float = 5.0) -> None:
        self._rules = rules
        self._ttl = ttl
        self._until = 0.0
        self._wanted: frozenset[Trigger] = frozenset()

    def __contains__(self, trigger: Trigger) -> bool:
        now = time.monotonic()
        if now >= self._until:
            self._until = now + self._ttl
            try:
                rules = self._rules()
            except Exception as exc:  # store down: keep the last answer, never fail the batch
                log.warning("alerts: rules not read: %s", exc)
            else:
                self._wanted = frozenset(t for r in rules if r.enabled for t in r.triggers)
        return trigger in self._wanted


@dataclass
class IndexerFacts:
    """What the indexer appends after storing a batch: its new bugs, the regressions the store
    applied and, while a frequency rule exists, each bug's new occurrences."""

    redis: Redis
    prefix: str
    wanted: WantedTriggers
    maxlen: int = 100_000

    def record(self, new_bug_ids: Iterable[int], occurrences: Iterable[BugOccurrences]) -> int:
        now = time.time()
        occurrences = list(occurrences)
        facts = [Fact(Trigger.NEW_BUG, bug_id, at=now) for bug_id in sorted(set(new_bug_ids))]
        facts += [Fact(Trigger.REGRESSION, o.bug_id, at=now) for o in occurrences if o.reopen]
        if occurrences and Trigger.FREQUENCY in self.wanted:
            facts += [Fact(Trigger.FREQUENCY, o.bug_id, o.count, now) for o in occurrences]
        return append(self.redis, self.prefix, facts, self.maxlen)
