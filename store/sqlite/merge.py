"""Merging bugs on SQLite (store.base.Store.merge_bugs), and the aliases merged fingerprints
leave behind: one write transaction moves everything, so a merge is never seen half done.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from store.errors import Conflict, NotFound
from store.models import (
    Bug,
    BugAlias,
    StatusChange,
    merge_change,
    merged_totals,
    utcnow,
)
from store.sqlite.rows import BUG_SELECT, bug_from_row
from store.sqlite.schema import from_micros, to_micros
from store.sqlite.writes import highest_bug_id, set_reserved, write_bug

_CHUNK = 500
ALIAS_SELECT = "SELECT fingerprint, bug_id, merged_id, merged_at FROM bug_aliases"


def alias_from_row(row: sqlite3.Row) -> BugAlias:
    return BugAlias(
        fingerprint=row["fingerprint"],
        bug_id=row["bug_id"],
        merged_id=row["merged_id"],
        merged_at=from_micros(row["merged_at"]),
    )


def write_alias(conn: sqlite3.Connection, alias: BugAlias) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO bug_aliases (fingerprint, bug_id, merged_id, merged_at) "
        "VALUES (?, ?, ?, ?)",
        (alias.fingerprint, alias.bug_id, alias.merged_id, to_micros(alias.merged_at)),
    )


def ids_by_fingerprint(
    conn: sqlite3.Connection, table: str, column: str, fingerprints: Iterable[str]
) -> dict[str, int]:
    """{fingerprint: `column`} of the rows of `table` (bugs or bug_aliases) holding them."""
    found: dict[str, int] = {}
    unique = list(dict.fromkeys(fingerprints))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = conn.execute(
            f"SELECT fingerprint, {column} FROM {table} WHERE fingerprint IN ({marks})", chunk
        ).fetchall()
        found.update((row[0], row[1]) for row in rows)
    return found


def aliases_of(conn: sqlite3.Connection, fingerprints: Iterable[str]) -> dict[str, int]:
    """{merged fingerprint: the bug it answers for} of those among `fingerprints`."""
    return ids_by_fingerprint(conn, "bug_aliases", "bug_id", fingerprints)


def merged_into(conn: sqlite3.Connection, bug_id: int) -> int | None:
    row = conn.execute("SELECT bug_id FROM bug_aliases WHERE merged_id = ?", (bug_id,)).fetchone()
    return None if row is None else int(row["bug_id"])


def _bug(conn: sqlite3.Connection, bug_id: int) -> Bug | None:
    row = conn.execute(f"{BUG_SELECT} WHERE id = ?", (bug_id,)).fetchone()
    return None if row is None else bug_from_row(row)


def merge(conn: sqlite3.Connection, target_id: int, bug_ids: Iterable[int], by: str | None) -> Bug:
    """Merge `bug_ids` into `target_id` inside the caller's write transaction."""
    target = _bug(conn, target_id)
    if target is None:
        raise NotFound(f"bug {target_id} not found")
    merged: list[Bug] = []
    for bug_id in dict.fromkeys(bug_ids):
        if bug_id == target_id:
            raise ValueError(f"bug {bug_id} cannot be merged into itself")
        bug = _bug(conn, bug_id)
        if bug is None:
            if merged_into(conn, bug_id) == target_id:
                continue  # merged before: nothing left to do
            raise NotFound(f"bug {bug_id} not found")
        if bug.project_id != target.project_id:
            raise Conflict(
                f"bug {bug_id} belongs to project {bug.project_id!r}, bug {target_id} to "
                f"{target.project_id!r}: only bugs of one project can be merged"
            )
        merged.append(bug)
    if not merged:
        return target
    now = utcnow()
    history: list[StatusChange] = list(target.status_history)
    top = highest_bug_id(conn)
    for bug in merged:
        target = target.model_copy(update=merged_totals(target, bug))
        history.append(merge_change(target.status, bug, now, by))
        _move(conn, bug, target_id, now)
    # Ids of merged bugs are never handed out again, even the highest.
    set_reserved(conn, top)
    target = target.model_copy(
        update={"status_history": history, "updated_at": now, "revision": target.revision + 1}
    )
    write_bug(conn, target, text=False)
    return target


def _move(conn: sqlite3.Connection, bug: Bug, target_id: int, now: datetime) -> None:
    """Move one merged bug's occurrences, reports and aliases to the target; drop the bug."""
    conn.execute("UPDATE events SET bug_id = ? WHERE bug_id = ?", (target_id, bug.id))
    conn.execute(
        "UPDATE repair_reports SET bug_id = ?1, body = json_set(body, '$.bug_id', ?1) "
        "WHERE bug_id = ?2",
        (target_id, bug.id),
    )
    # Fingerprints merged into this bug before now answer for the target.
    conn.execute("UPDATE bug_aliases SET bug_id = ? WHERE bug_id = ?", (target_id, bug.id))
    write_alias(
        conn,
        BugAlias.model_validate(
            {
                "fingerprint": bug.fingerprint,
                "bug_id": target_id,
                "merged_id": bug.id,
                "merged_at": now,
            }
        ),
    )
    conn.execute("DELETE FROM bugs WHERE id = ?", (bug.id,))
    conn.execute("DELETE FROM bugs_fts WHERE rowid = ?", (bug.id,))


def alias_keys(conn: sqlite3.Connection) -> list[tuple[str, int, str, str | None]]:
    """(merged fingerprint, target id, target status, target fixed_version) of every alias."""
    rows = conn.execute(
        "SELECT a.fingerprint, a.bug_id, b.status, b.fixed_version FROM bug_aliases a "
        "JOIN bugs b ON b.id = a.bug_id ORDER BY a.merged_id"
    ).fetchall()
    return [(row[0], int(row[1]), str(row[2]), row[3]) for row in rows]
