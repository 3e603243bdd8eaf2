"""Alert channels, rules and deliveries in the SQLite store: one JSON body per row.

A mixin of SQLiteStore, apart from the bugs and events it would otherwise crowd; it uses the
store's own transactions, so a delivery and its channel's health are written together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import orjson
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
from store.errors import NotFound
from store.models import utcnow
from store.sqlite.schema import from_micros, to_micros

M = TypeVar("M", bound=BaseModel)
_CHANNELS = "alert_channels"
_RULES = "alert_rules"
_OWN = {"id", "created_at", "updated_at"}


def alert_body(model: BaseModel) -> str:
    return orjson.dumps(model.model_dump(mode="json", exclude=_OWN)).decode()


def alert_from_row(row: sqlite3.Row, kind: type[M]) -> M:
    data = orjson.loads(row["body"])
    data["id"] = row["id"]
    names = row.keys()
    data.update({k: from_micros(row[k]) for k in ("created_at", "updated_at") if k in names})
    return kind.model_validate(data)


def _insert(conn: sqlite3.Connection, table: str, new: BaseModel, kind: type[M]) -> M:
    now = to_micros(utcnow())
    row = conn.execute(
        f"INSERT INTO {table} (body, created_at, updated_at) VALUES (?, ?, ?) RETURNING *",
        (alert_body(new), now, now),
    ).fetchone()
    return alert_from_row(row, kind)


def _get(conn: sqlite3.Connection, table: str, record_id: int, kind: type[M]) -> M | None:
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
    return None if row is None else alert_from_row(row, kind)


def _update(
    conn: sqlite3.Connection, table: str, record_id: int, changes: Mapping[str, Any], kind: type[M]
) -> M:
    current = _get(conn, table, record_id, kind)
    if current is None:
        raise NotFound(f"{table[:-1].replace('_', ' ')} {record_id} not found")
    now = utcnow()
    updated = kind.model_validate({**current.model_dump(), **changes, "updated_at": now})
    conn.execute(
        f"UPDATE {table} SET body = ?, updated_at = ? WHERE id = ?",
        (alert_body(updated), to_micros(now), record_id),
    )
    return updated


class SQLiteAlerts:
    """The alert part of store.base.Store (see its promises there)."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _list(self, table: str, kind: type[M]) -> list[M]:
        with self._read() as conn:
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        return [alert_from_row(row, kind) for row in rows]

    def _delete(self, table: str, record_id: int) -> None:
        with self._write() as conn:
            if not conn.execute(f"DELETE FROM {table} WHERE id = ?", (record_id,)).rowcount:
                raise NotFound(f"{table[:-1].replace('_', ' ')} {record_id} not found")

    # -- channels ---------------------------------------------------------------------------
    def add_alert_channel(self, channel: AlertChannelIn) -> AlertChannel:
        with self._write() as conn:
            return _insert(conn, _CHANNELS, channel, AlertChannel)

    def get_alert_channel(self, channel_id: int) -> AlertChannel | None:
        with self._read() as conn:
            return _get(conn, _CHANNELS, channel_id, AlertChannel)

    def list_alert_channels(self) -> list[AlertChannel]:
        return self._list(_CHANNELS, AlertChannel)

    def update_alert_channel(self, channel_id: int, changes: Mapping[str, Any]) -> AlertChannel:
        check_alert_changes(AlertChannel, dict(changes))
        with self._write() as conn:
            return _update(conn, _CHANNELS, channel_id, changes, AlertChannel)

    def delete_alert_channel(self, channel_id: int) -> None:
        self._delete(_CHANNELS, channel_id)

    # -- rules ------------------------------------------------------------------------------
    def add_alert_rule(self, rule: AlertRuleIn) -> AlertRule:
        with self._write() as conn:
            return _insert(conn, _RULES, rule, AlertRule)

    def get_alert_rule(self, rule_id: int) -> AlertRule | None:
        with self._read() as conn:
            return _get(conn, _RULES, rule_id, AlertRule)

    def list_alert_rules(self) -> list[AlertRule]:
        return self._list(_RULES, AlertRule)

    def update_alert_rule(self, rule_id: int, changes: Mapping[str, Any]) -> AlertRule:
        check_alert_changes(AlertRuleIn, dict(changes))
        with self._write() as conn:
            return _update(conn, _RULES, rule_id, changes, AlertRule)

    def delete_alert_rule(self, rule_id: int) -> None:
        self._delete(_RULES, rule_id)

    # -- deliveries -------------------------------------------------------------------------
    def add_alert_delivery(self, delivery: AlertDeliveryIn) -> AlertDelivery:
        now = utcnow()
        with self._write() as conn:
            row = conn.execute(
                "INSERT INTO alert_deliveries (channel_id, created_at, body) VALUES (?, ?, ?) "
                "RETURNING *",
                (delivery.channel_id, to_micros(now), alert_body(delivery)),
            ).fetchone()
            if _get(conn, _CHANNELS, delivery.channel_id, AlertChannel) is not None:
                health = health_changes(delivery, now)
                _update(conn, _CHANNELS, delivery.channel_id, health, AlertChannel)
            return alert_from_row(row, AlertDelivery)

    def list_alert_deliveries(
        self, *, channel_id: int | None = None, limit: int = 50
    ) -> list[AlertDelivery]:
        where, args = ("WHERE channel_id = ?", [channel_id]) if channel_id is not None else ("", [])
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT * FROM alert_deliveries {where} ORDER BY id DESC LIMIT ?",
                [*args, limit],
            ).fetchall()
        return [alert_from_row(row, AlertDelivery) for row in rows]
