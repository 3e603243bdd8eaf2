"""Which rules a fact about a bug alerts: trigger, project, environment, level and source first
(no I/O), then the rule's Lucene filter, answered by the store as a bug search restricted to the
bug, then the frequency window and the cooldown (Redis, via `state.AlertState`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from config.settings import Settings
from ingest.alerts.fact import Fact
from ingest.alerts.state import AlertState
from store.alert import AlertRule, Trigger
from store.base import Store
from store.errors import QueryError
from store.models import Bug
from store.search import BugQuery

log = logging.getLogger("logcenter.alerts")


@dataclass(frozen=True)
class Decision:
    rule: AlertRule
    trigger: Trigger
    #: For frequency: (occurrences in the window, the window's minutes).
    window: tuple[int, int] | None = None


def filters_match(rule: AlertRule, trigger: Trigger, bug: Bug) -> bool:
    """The rule's trigger and field filters accept the bug (empty filters accept anything)."""
    levels = {level.upper() for level in rule.levels}
    return (
        rule.enabled
        and trigger in rule.triggers
        and rule.project_id in (None, "", bug.project_id)
        and (not rule.environments or bug.environment in rule.environments)
        and (not levels or bug.level.upper() in levels)
        and (not rule.sources or bug.source in rule.sources)
    )


def query_matches(store: Store, rule: AlertRule, bug: Bug) -> bool:
    """The rule's Lucene filter matches the bug (a rule without one matches every bug)."""
    if not rule.query.strip():
        return True
    query = BugQuery(q=f"id:{bug.id} AND ({rule.query})", size=1, facets=())
    try:
        return store.search_bugs(query).total > 0
    except QueryError as exc:
        log.warning("alerts: rule %d has a bad query: %s", rule.id, exc)
        return False


def in_window(buckets: dict[int, int], at: float, minutes: int) -> int:
    """Occurrences of the last `minutes` minutes (the current one included)."""
    now = int(at // 60)
    return sum(n for minute, n in buckets.items() if minute > now - minutes)


def decide(
    fact: Fact,
    bug: Bug,
    rules: list[AlertRule],
    state: AlertState,
    store: Store,
    settings: Settings,
) -> list[Decision]:
    """The rules this fact alerts now (each rule at most once per cooldown per bug)."""
    candidates = [r for r in rules if filters_match(r, fact.trigger, bug)]
    if not candidates:
        return []
    buckets: dict[int, int] = {}
    if fact.trigger == Trigger.FREQUENCY:
        buckets = state.count_occurrences(bug.id, fact.count, fact.at)
    decided: list[Decision] = []
    for rule in candidates:
        window = None
        if fact.trigger == Trigger.FREQUENCY:
            seen = in_window(buckets, fact.at, rule.frequency_minutes)
            if seen <= rule.frequency_count:
                continue
            window = (seen, rule.frequency_minutes)
        if not query_matches(store, rule, bug):
            continue
        cooldown = rule.cooldown_minutes
        minutes = settings.alerts_cooldown_minutes if cooldown is None else cooldown
        if state.cool(rule.id, bug.id, fact.trigger.value, minutes * 60):
            decided.append(Decision(rule, fact.trigger, window))
    return decided
