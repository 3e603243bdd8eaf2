"""Rule matching on each store backend: field filters, the Lucene filter answered by the store
for the one bug, frequency windows and cooldowns held in a real Redis."""

from __future__ import annotations

import time
from typing import Any

from ingest.alerts.fact import Fact
from ingest.alerts.rules import decide
from ingest.alerts.state import AlertState
from store.alert import AlertRule, Trigger
from store.models import Bug
from tests.stack import ApiHarness


def _rule(rule_id: int, **fields: Any) -> AlertRule:
    data: dict[str, Any] = {"name": f"r{rule_id}", "triggers": ["new_bug"], "channel_ids": [1]}
    data.update(fields)
    now = time.time()
    return AlertRule.model_validate({**data, "id": rule_id, "created_at": now, "updated_at": now})


def _bug(api: ApiHarness, **overrides: Any) -> Bug:
    bug_id = api.report(project_id="shop", **overrides).json()["id"]
    api.drain()
    bug = api.store.get_bug(bug_id)
    assert bug is not None
    return bug


def test_filters_and_queries_pick_the_rules(api: ApiHarness) -> None:
    bug = _bug(api, environment="production", level="ERROR", message="payment timed out")
    rules = [
        _rule(1),
        _rule(2, project_id="other"),
        _rule(3, environments=["staging"]),
        _rule(4, levels=["error"], sources=["runtime"]),
        _rule(5, query='message:"timed out" AND level:ERROR'),
        _rule(6, query="message:refused"),
        _rule(7, query="nosuchfield:x"),  # refused by the search: never matches
        _rule(8, triggers=["regression"]),
        _rule(9, enabled=False),
    ]
    state = AlertState(api.redis, api.settings.redis_prefix, window_s=60, first=5)
    fact = Fact(Trigger.NEW_BUG, bug.id, at=time.time())
    decided = decide(fact, bug, rules, state, api.store, api.settings)
    assert [d.rule.id for d in decided] == [1, 4, 5]
    # Within the cooldown the same fact decides nothing; another trigger is not cooled.
    assert decide(fact, bug, rules, state, api.store, api.settings) == []
    regression = Fact(Trigger.REGRESSION, bug.id, at=time.time())
    again = decide(regression, bug, rules, state, api.store, api.settings)
    assert [d.rule.id for d in again] == [8]


def test_a_frequency_rule_counts_within_its_window(api: ApiHarness) -> None:
    bug = _bug(api)
    rules = [_rule(1, triggers=["frequency"], frequency_count=10, frequency_minutes=5)]
    state = AlertState(api.redis, api.settings.redis_prefix, window_s=60, first=5)
    now = time.time()
    old = Fact(Trigger.FREQUENCY, bug.id, count=8, at=now - 600)  # 10 minutes ago
    assert decide(old, bug, rules, state, api.store, api.settings) == []
    assert decide(Fact(Trigger.FREQUENCY, bug.id, 6, now), bug, rules, state, api.store,
                  api.settings) == []  # fmt: skip  # 6 in the window: the old 8 are out of it
    crossed = decide(Fact(Trigger.FREQUENCY, bug.id, 5, now), bug, rules, state, api.store,
                     api.settings)  # fmt: skip
    assert [(d.rule.id, d.window) for d in crossed] == [(1, (11, 5))]
    assert decide(Fact(Trigger.FREQUENCY, bug.id, 5, now), bug, rules, state, api.store,
                  api.settings) == []  # fmt: skip
