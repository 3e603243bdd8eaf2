"""Alert channels, rules and deliveries in the Elasticsearch store: an index per kind
(`<prefix>alert-channels`, `-rules`, `-deliveries`), ids from the meta counters.

A mixin of ElasticsearchStore. Updates are read-modify-write under optimistic concurrency, so
a channel's health written by the deliverer and an edit made through the API never undo each
other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, TypeVar

from elasticsearch import Elasticsearch, NotFoundError
from pydantic import BaseModel

from store.alert import (
    AlertChannel,
    AlertChannelIn,
    AlertDelivery,
    AlertDeliveryIn,
    AlertRule,
    AlertRuleIn,
    check_alert_changes,
    health_changes,
)
from store.elasticsearch.client import next_counter, translated, with_occ
from store.elasticsearch.mapping import IndexNames
from store.errors import NotFound
from store.models import utcnow

M = TypeVar("M", bound=BaseModel)
_MAX_LISTED = 10_000


class ElasticsearchAlerts:
    """The alert part of store.base.Store (see its promises there)."""

    es: Elasticsearch
    names: IndexNames

    def _add(self, index: str, new: BaseModel, kind: type[M]) -> M:
        now = utcnow()
        record_id = next_counter(self.es, self.names.meta, index.removeprefix(self.names.prefix), 1)
        data = {**new.model_dump(), "id": record_id, "created_at": now, "updated_at": now}
        record = kind.model_validate(data)
        self.es.create(
            index=index, id=str(record_id), document=record.model_dump(mode="json"), refresh=True
        )
        return record

    def _get(self, index: str, record_id: int, kind: type[M]) -> M | None:
        try:
            found = self.es.get(index=index, id=str(record_id))
        except NotFoundError:
            return None
        return kind.model_validate(found["_source"])

    def _list(self, index: str, kind: type[M]) -> list[M]:
        hits = self.es.search(index=index, size=_MAX_LISTED, sort=[{"id": "asc"}])["hits"]["hits"]
        return [kind.model_validate(hit["_source"]) for hit in hits]

    def _update(self, index: str, record_id: int, changes: Mapping[str, Any], kind: type[M]) -> M:
        def attempt() -> M:
            try:
                found = self.es.get(index=index, id=str(record_id))
            except NotFoundError:
                raise NotFound(f"{kind.__name__} {record_id} not found") from None
            data = {**found["_source"], **changes, "updated_at": utcnow()}
            record = kind.model_validate(data)
            self.es.index(
                index=index,
                id=str(record_id),
                document=record.model_dump(mode="json"),
                if_seq_no=found["_seq_no"],
                if_primary_term=found["_primary_term"],
                refresh=True,
            )
            return record

        return with_occ(f"{kind.__name__} {record_id}", attempt)

    def _delete(self, index: str, record_id: int, kind: type[BaseModel]) -> None:
        try:
            self.es.delete(index=index, id=str(record_id), refresh=True)
        except NotFoundError:
            raise NotFound(f"{kind.__name__} {record_id} not found") from None

    # -- channels ---------------------------------------------------------------------------
    @translated
    def add_alert_channel(self, channel: AlertChannelIn) -> AlertChannel:
        return self._add(self.names.alert_channels, channel, AlertChannel)

    @translated
    def get_alert_channel(self, channel_id: int) -> AlertChannel | None:
        return self._get(self.names.alert_channels, channel_id, AlertChannel)

    @translated
    def list_alert_channels(self) -> list[AlertChannel]:
        return self._list(self.names.alert_channels, AlertChannel)

    @translated
    def update_alert_channel(self, channel_id: int, changes: Mapping[str, Any]) -> AlertChannel:
        check_alert_changes(AlertChannel, dict(changes))
        return self._update(self.names.alert_channels, channel_id, changes, AlertChannel)

    @translated
    def delete_alert_channel(self, channel_id: int) -> None:
        self._delete(self.names.alert_channels, channel_id, AlertChannel)

    # -- rules ------------------------------------------------------------------------------
    @translated
    def add_alert_rule(self, rule: AlertRuleIn) -> AlertRule:
        return self._add(self.names.alert_rules, rule, AlertRule)

    @translated
    def get_alert_rule(self, rule_id: int) -> AlertRule | None:
        return self._get(self.names.alert_rules, rule_id, AlertRule)

    @translated
    def list_alert_rules(self) -> list[AlertRule]:
        return self._list(self.names.alert_rules, AlertRule)

    @translated
    def update_alert_rule(self, rule_id: int, changes: Mapping[str, Any]) -> AlertRule:
        check_alert_changes(AlertRuleIn, dict(changes))
        return self._update(self.names.alert_rules, rule_id, changes, AlertRule)

    @translated
    def delete_alert_rule(self, rule_id: int) -> None:
        self._delete(self.names.alert_rules, rule_id, AlertRule)

    # -- deliveries -------------------------------------------------------------------------
    @translated
    def add_alert_delivery(self, delivery: AlertDeliveryIn) -> AlertDelivery:
        recorded = self._add(self.names.alert_deliveries, delivery, AlertDelivery)
        health = health_changes(delivery, recorded.created_at)
        # The channel may have been deleted while its message was on the way.
        with contextlib.suppress(NotFound):
            self._update(self.names.alert_channels, delivery.channel_id, health, AlertChannel)
        return recorded

    @translated
    def list_alert_deliveries(
        self, *, channel_id: int | None = None, limit: int = 50
    ) -> list[AlertDelivery]:
        query = {"term": {"channel_id": channel_id}} if channel_id is not None else None
        hits = self.es.search(
            index=self.names.alert_deliveries, query=query, size=limit, sort=[{"id": "desc"}]
        )["hits"]["hits"]
        return [AlertDelivery.model_validate(hit["_source"]) for hit in hits]
