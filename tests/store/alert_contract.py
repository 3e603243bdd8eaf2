"""The store contract for alert channels, rules and deliveries (bound per backend in one line,
as tests/store/contract.py describes)."""

from __future__ import annotations

import pytest

from store.alert import AlertChannelIn, AlertDeliveryIn, AlertRuleIn, ChannelKind, Trigger
from store.base import Store
from store.errors import NotFound
from tests.store.contract import Opener


def channel(name: str = "ops", **fields: object) -> AlertChannelIn:
    data: dict[str, object] = {
        "name": name,
        "kind": ChannelKind.DINGTALK,
        "url": "https://oapi.dingtalk.com/robot/send?access_token=abc",
        "secret": "SECabc",
    }
    data.update(fields)
    return AlertChannelIn.model_validate(data)


def rule(channel_ids: list[int], **fields: object) -> AlertRuleIn:
    data: dict[str, object] = {"name": "new bugs", "triggers": [Trigger.NEW_BUG]}
    data.update(fields)
    return AlertRuleIn.model_validate({**data, "channel_ids": channel_ids})


class AlertContract:
    def test_channel_round_trip_keeps_the_secret(self, store: Store, store_opener: Opener) -> None:
        added = store.add_alert_channel(channel(options={"chat_id": "42", "starttls": True}))
        again = store_opener()
        got = again.get_alert_channel(added.id)
        again.close()
        assert got == added
        assert got.secret == "SECabc"
        assert got.options == {"chat_id": "42", "starttls": True}
        assert got.last_success_at is None and got.last_failure_at is None

    def test_channels_get_distinct_ids_and_list_in_order(self, store: Store) -> None:
        ids = [store.add_alert_channel(channel(f"c{i}")).id for i in range(3)]
        assert len(set(ids)) == 3
        assert [c.name for c in store.list_alert_channels()] == ["c0", "c1", "c2"]
        assert store.get_alert_channel(max(ids) + 100) is None

    def test_channel_update_and_delete(self, store: Store) -> None:
        added = store.add_alert_channel(channel())
        updated = store.update_alert_channel(added.id, {"name": "team", "enabled": False})
        assert (updated.name, updated.enabled, updated.secret) == ("team", False, "SECabc")
        assert store.get_alert_channel(added.id) == updated
        with pytest.raises(ValueError):
            store.update_alert_channel(added.id, {"id": 7})
        store.delete_alert_channel(added.id)
        assert store.get_alert_channel(added.id) is None
        with pytest.raises(NotFound):
            store.delete_alert_channel(added.id)
        with pytest.raises(NotFound):
            store.update_alert_channel(added.id, {"name": "x"})

    def test_rule_round_trip_update_delete(self, store: Store) -> None:
        added = store.add_alert_rule(
            rule(
                [1, 2],
                project_id="shop",
                triggers=[Trigger.FREQUENCY, Trigger.REPAIR_FAILED],
                environments=["prod"],
                query='message:"timed out"',
                frequency_count=50,
                frequency_minutes=10,
                cooldown_minutes=5,
            )
        )
        assert store.get_alert_rule(added.id) == added
        assert added.triggers == [Trigger.FREQUENCY, Trigger.REPAIR_FAILED]
        updated = store.update_alert_rule(added.id, {"levels": ["FATAL"], "enabled": False})
        assert (updated.levels, updated.enabled, updated.frequency_count) == (["FATAL"], False, 50)
        assert store.list_alert_rules() == [updated]
        store.delete_alert_rule(added.id)
        assert store.list_alert_rules() == []
        with pytest.raises(NotFound):
            store.update_alert_rule(added.id, {"name": "x"})

    def test_deliveries_record_channel_health(self, store: Store) -> None:
        ch = store.add_alert_channel(channel())
        other = store.add_alert_channel(channel("other"))
        ok = AlertDeliveryIn(
            channel_id=ch.id, rule_id=3, trigger="new_bug", bug_ids=[7], ok=True, status_code=200
        )
        bad = AlertDeliveryIn(
            channel_id=ch.id,
            trigger="digest",
            bug_ids=[8, 9],
            ok=False,
            attempts=3,
            status_code=500,
            response="boom",
        )
        first = store.add_alert_delivery(ok)
        second = store.add_alert_delivery(bad)
        store.add_alert_delivery(ok.model_copy(update={"channel_id": other.id}))
        listed = store.list_alert_deliveries(channel_id=ch.id)
        assert [d.id for d in listed] == [second.id, first.id]
        assert (listed[0].bug_ids, listed[0].attempts, listed[0].response) == ([8, 9], 3, "boom")
        assert len(store.list_alert_deliveries()) == 3
        assert len(store.list_alert_deliveries(limit=1)) == 1
        health = store.get_alert_channel(ch.id)
        assert health is not None
        assert (health.last_success_status, health.last_failure_status) == (200, 500)
        assert health.last_failure_body == "boom"
        assert health.last_failure_at is not None and health.last_success_at is not None
        assert health.last_failure_at >= health.last_success_at

    def test_delivery_to_a_deleted_channel_is_kept(self, store: Store) -> None:
        ch = store.add_alert_channel(channel())
        store.delete_alert_channel(ch.id)
        kept = store.add_alert_delivery(
            AlertDeliveryIn(channel_id=ch.id, trigger="test", ok=False, response="gone")
        )
        assert store.list_alert_deliveries(channel_id=ch.id) == [kept]

    def test_a_project_keeps_its_alert_language(self, store: Store, store_opener: Opener) -> None:
        store.ensure_project("shop")
        assert store.get_project("shop").language is None  # type: ignore[union-attr]
        store.update_project("shop", {"language": "zh"})
        again = store_opener()
        assert again.get_project("shop").language == "zh"  # type: ignore[union-attr]
        again.close()
        assert store.update_project("shop", {"language": None}).language is None
