"""Copying records in and out of the SQLite store as they are (store.base.Store.export_records
and import_records, used by `logcenter migrate`).

Every kind is read in the order of its integer key (events: their row sequence), so a position
is that key. Writes keep ids and times: a record whose id exists is replaced (REPLACE also
frees a unique name or project_id held by another id, so the copy wins). Events go through
the same statement as the store's own add_events, so their full-text index stays in step, but
never touch a bug's count: the bug records carry it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from store.alert import AlertChannel, AlertDelivery, AlertRule
from store.errors import Conflict
from store.models import Bug, BugAlias, Event, Project, RepairReport, SavedSearch
from store.record import BugIdReservation, Record, check_kind, from_records, to_record
from store.sqlite.alerts import alert_body, alert_from_row
from store.sqlite.merge import ALIAS_SELECT, alias_from_row, write_alias
from store.sqlite.rows import (
    BUG_SELECT,
    EVENT_FIELDS_SQL,
    PROJECT_COLUMNS,
    PROJECT_SELECT,
    bug_from_row,
    event_from_row,
    insert_sql,
    project_from_row,
    project_values,
    report_body,
    report_from_row,
    search_from_row,
    search_values,
)
from store.sqlite.schema import to_micros
from store.sqlite.writes import highest_bug_id, insert_event, set_reserved, write_bug

_EVENT_SELECT = f"SELECT seq, {EVENT_FIELDS_SQL} FROM events"

#: Kind -> (SELECT of its rows, their ordering key, row -> model).
_READERS: dict[str, tuple[str, str, Callable[[sqlite3.Row], Any]]] = {
    "projects": (PROJECT_SELECT, "id", project_from_row),
    "bugs": (BUG_SELECT, "id", bug_from_row),
    "events": (_EVENT_SELECT, "seq", event_from_row),
    "repair_reports": ("SELECT * FROM repair_reports", "id", report_from_row),
    "saved_searches": ("SELECT * FROM saved_searches", "id", search_from_row),
    "alert_channels": (
        "SELECT * FROM alert_channels",
        "id",
        lambda row: alert_from_row(row, AlertChannel),
    ),
    "alert_rules": ("SELECT * FROM alert_rules", "id", lambda row: alert_from_row(row, AlertRule)),
    "alert_deliveries": (
        "SELECT * FROM alert_deliveries",
        "id",
        lambda row: alert_from_row(row, AlertDelivery),
    ),
    "bug_aliases": (ALIAS_SELECT, "merged_id", alias_from_row),
}


def export_rows(
    conn: sqlite3.Connection, kind: str, after: str | None, limit: int
) -> tuple[list[Record], str | None]:
    check_kind(kind)
    if kind == "bug_id_reservation":
        if after is not None:
            return [], None
        return [to_record(BugIdReservation(max_bug_id=highest_bug_id(conn)))], None
    select, key, convert = _READERS[kind]
    rows = conn.execute(
        f"{select} WHERE {key} > ? ORDER BY {key} LIMIT ?", (int(after or 0), limit)
    ).fetchall()
    records = [to_record(convert(row)) for row in rows]
    return records, (str(rows[-1][key]) if len(rows) == limit else None)


def _write_projects(conn: sqlite3.Connection, projects: list[Project]) -> None:
    sql = insert_sql("projects", ("id", *PROJECT_COLUMNS), "REPLACE")
    for project in projects:
        conn.execute(sql, [project.id, *project_values(project)])


def _write_bugs(conn: sqlite3.Connection, bugs: list[Bug]) -> None:
    for bug in bugs:
        row = conn.execute(
            "SELECT id, fingerprint FROM bugs WHERE fingerprint = ? OR id = ?",
            (bug.fingerprint, bug.id),
        ).fetchone()
        if row is not None and (row["id"], row["fingerprint"]) != (bug.id, bug.fingerprint):
            raise Conflict(
                f"bug {bug.id} ({bug.fingerprint}): bug {row['id']} is {row['fingerprint']} here"
            )
        write_bug(conn, bug)


def _write_events(conn: sqlite3.Connection, events: list[Event]) -> None:
    for event in events:
        insert_event(conn, event)


def _write_reports(conn: sqlite3.Connection, reports: list[RepairReport]) -> None:
    sql = insert_sql(
        "repair_reports",
        ("id", "bug_id", "project_id", "round", "passed", "created_at", "body"),
        "REPLACE",
    )
    for r in reports:
        values = (r.id, r.bug_id, r.project_id, r.round, int(r.passed), to_micros(r.created_at))
        conn.execute(sql, (*values, report_body(r)))


def _write_searches(conn: sqlite3.Connection, searches: list[SavedSearch]) -> None:
    sql = insert_sql(
        "saved_searches", ("id", "name", "created_at", "updated_at", "body"), "REPLACE"
    )
    for search in searches:
        conn.execute(sql, (search.id, *search_values(search)))


def _alert_writer(table: str) -> Callable[[sqlite3.Connection, list[Any]], None]:
    def write(conn: sqlite3.Connection, records: list[AlertChannel | AlertRule]) -> None:
        sql = insert_sql(table, ("id", "body", "created_at", "updated_at"), "REPLACE")
        for r in records:
            times = (to_micros(r.created_at), to_micros(r.updated_at))
            conn.execute(sql, (r.id, alert_body(r), *times))

    return write


def _write_deliveries(conn: sqlite3.Connection, deliveries: list[AlertDelivery]) -> None:
    sql = insert_sql("alert_deliveries", ("id", "channel_id", "created_at", "body"), "REPLACE")
    for d in deliveries:
        conn.execute(sql, (d.id, d.channel_id, to_micros(d.created_at), alert_body(d)))


def _write_reservation(conn: sqlite3.Connection, found: list[BugIdReservation]) -> None:
    for reservation in found:
        if reservation.max_bug_id > highest_bug_id(conn):
            set_reserved(conn, reservation.max_bug_id)


def _write_aliases(conn: sqlite3.Connection, aliases: list[BugAlias]) -> None:
    for alias in aliases:
        write_alias(conn, alias)


_WRITERS: dict[str, Callable[[sqlite3.Connection, list[Any]], None]] = {
    "projects": _write_projects,
    "bugs": _write_bugs,
    "events": _write_events,
    "repair_reports": _write_reports,
    "saved_searches": _write_searches,
    "alert_channels": _alert_writer("alert_channels"),
    "alert_rules": _alert_writer("alert_rules"),
    "alert_deliveries": _write_deliveries,
    "bug_id_reservation": _write_reservation,
    "bug_aliases": _write_aliases,
}


class SQLiteTransfer:
    """The copying part of store.base.Store (see its promises there); a mixin of SQLiteStore."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def export_records(
        self, kind: str, after: str | None, limit: int
    ) -> tuple[list[Record], str | None]:
        with self._read() as conn:
            return export_rows(conn, kind, after, limit)

    def import_records(self, kind: str, records: list[Record]) -> int:
        models = from_records(kind, records)
        with self._write() as conn:
            _WRITERS[kind](conn, models)
        return len(models)
