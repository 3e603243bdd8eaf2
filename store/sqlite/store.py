"""The embedded store: one SQLite file (WAL, FTS5) shared by every Log Center process.

Each process opens its own connection; within a process one connection is shared by threads
under a lock. Every write runs in `BEGIN IMMEDIATE`, so concurrent writers queue on the file lock
(busy_timeout) instead of failing on a lock upgrade.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from store.errors import Conflict, NotFound, Unavailable
from store.models import (
    Bug,
    BugCreate,
    BugOccurrences,
    Event,
    Project,
    RepairReport,
    RepairReportIn,
    SavedSearch,
    SavedSearchIn,
    StatusChange,
    ToolchainInfo,
    check_bug_changes,
    new_public_key,
    newest_of,
    occurrences_of,
    project_edit,
    regresses,
    remap_merged,
    reopen_changes,
    reported_repo_url,
    saved_search,
    utcnow,
)
from store.retention import Cutoffs
from store.search import BugPage, BugQuery, EventPage, EventQuery
from store.sqlite.alerts import SQLiteAlerts
from store.sqlite.merge import alias_keys, aliases_of, ids_by_fingerprint, merge, merged_into
from store.sqlite.migrations import migrate
from store.sqlite.purge import drop_expired
from store.sqlite.rows import (
    BUG_COLUMNS,
    BUG_SELECT,
    EVENT_FIELDS_SQL,
    PROJECT_COLUMNS,
    PROJECT_SELECT,
    bug_from_row,
    bug_fts_values,
    bug_values,
    event_from_row,
    insert_sql,
    project_from_row,
    project_values,
    report_body,
    report_from_row,
    search_from_row,
    search_values,
)
from store.sqlite.schema import connect, to_micros
from store.sqlite.search import bug_events, search_bugs, search_events
from store.sqlite.transfer import SQLiteTransfer
from store.sqlite.writes import (
    INSERT_BUG_FTS,
    highest_bug_id,
    insert_event,
    set_reserved,
    write_bug,
)

_CHUNK = 500
_INSERT_BUG = insert_sql("bugs", BUG_COLUMNS) + " ON CONFLICT(fingerprint) DO NOTHING"


def path_from_url(url: str) -> Path:
    """`sqlite:///abs/path.db` (or `sqlite:////abs/path.db`) -> /abs/path.db."""
    prefix = "sqlite://"
    if not url.startswith(prefix) or not url[len(prefix) :].startswith("/"):
        raise ValueError(f"store URL {url!r}: expected sqlite:///absolute/path.db")
    return Path("/" + url[len(prefix) :].lstrip("/"))


class SQLiteStore(SQLiteAlerts, SQLiteTransfer):
    """store.base.Store on one SQLite file."""

    def __init__(self, url: str, **options: object) -> None:
        if options:
            raise TypeError(f"SQLiteStore takes no options, got {', '.join(sorted(options))}")
        self.url = url
        self.path = path_from_url(url)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = connect(str(self.path))
        return self._conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute(begin)
            except sqlite3.OperationalError as exc:
                raise Unavailable(f"{self.path}: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:  # SQLite may have rolled back by itself
                    conn.execute("ROLLBACK")
                if _out_of_space(exc):
                    # Retried once space returns; the indexer keeps the batch in the stream.
                    raise Unavailable(f"{self.path}: {exc}") from exc
                raise

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction("BEGIN")

    def init(self) -> None:
        with self._lock:
            migrate(self._connection())

    def ping(self) -> bool:
        try:
            with self._lock:
                return bool(self._connection().execute("SELECT 1").fetchone()[0] == 1)
        except sqlite3.Error:
            return False

    def write_block(self) -> str | None:
        return None  # a full disk shows as failed writes; the API's own disk guard names it

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- bugs ---------------------------------------------------------------------------------
    def create_bugs(self, bugs: Iterable[BugCreate]) -> dict[str, int]:
        now = utcnow()
        fingerprints: list[str] = []
        with self._write() as conn:
            wanted = list(bugs)
            merged = aliases_of(conn, (new.fingerprint for new in wanted))
            for new in wanted:
                fingerprints.append(new.fingerprint)
                if new.fingerprint in merged:
                    continue  # answers the bug it was merged into
                fields = new.model_dump(include=set(BugCreate.model_fields))
                bug = Bug(
                    **fields, last_seen=new.first_seen, created_at=now, updated_at=now, revision=1
                )
                try:
                    inserted = conn.execute(_INSERT_BUG, bug_values(bug)).rowcount == 1
                except sqlite3.IntegrityError as exc:
                    raise Conflict(f"bug id {bug.id} is taken by another fingerprint") from exc
                if inserted:
                    conn.execute(INSERT_BUG_FTS, [bug.id, *bug_fts_values(bug)])
            return _ids_by_fingerprint(conn, fingerprints)

    def get_bug(self, bug_id: int) -> Bug | None:
        with self._read() as conn:
            return _get_bug(conn, bug_id)

    def bug_ids_by_fingerprint(self, fingerprints: Iterable[str]) -> dict[str, int]:
        with self._read() as conn:
            return _ids_by_fingerprint(conn, list(fingerprints))

    def merge_bugs(self, target_id: int, bug_ids: Iterable[int], *, by: str | None = None) -> Bug:
        with self._write() as conn:
            return merge(conn, target_id, bug_ids, by)

    def merged_into(self, bug_id: int) -> int | None:
        with self._read() as conn:
            return merged_into(conn, bug_id)

    def merged_fingerprints(self, bug_id: int) -> list[str]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT fingerprint FROM bug_aliases WHERE bug_id = ? ORDER BY fingerprint",
                (bug_id,),
            ).fetchall()
        return [row[0] for row in rows]

    def update_bug(
        self,
        bug_id: int,
        changes: Mapping[str, Any],
        *,
        expected_revision: int | None = None,
        history: StatusChange | None = None,
    ) -> Bug:
        check_bug_changes(changes)
        with self._write() as conn:
            bug = _get_bug(conn, bug_id)
            if bug is None:
                raise NotFound(f"bug {bug_id} not found")
            if expected_revision is not None and expected_revision != bug.revision:
                raise Conflict(
                    f"bug {bug_id} changed since it was read "
                    f"(revision {bug.revision}, expected {expected_revision})"
                )
            data = {**bug.model_dump(), "updated_at": utcnow(), **changes}
            if history is not None:
                data["status_history"] = [*bug.status_history, history]
            data["revision"] = bug.revision + 1
            updated = Bug.model_validate(data)
            write_bug(conn, updated)
            return updated

    def apply_occurrences(self, occurrences: Iterable[BugOccurrences]) -> None:
        with self._write() as conn:
            _apply_occurrences(conn, occurrences)

    def iter_bug_keys(self) -> Iterator[tuple[str, int, str, str | None]]:
        last_id = -1
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    "SELECT fingerprint, id, status, fixed_version FROM bugs "
                    "WHERE id > ? ORDER BY id LIMIT ?",
                    (last_id, _CHUNK),
                ).fetchall()
            for row in rows:
                yield row["fingerprint"], row["id"], row["status"], row["fixed_version"]
            if len(rows) < _CHUNK:
                break
            last_id = rows[-1]["id"]
        with self._read() as conn:
            yield from alias_keys(conn)

    def max_bug_id(self) -> int:
        with self._read() as conn:
            return highest_bug_id(conn)

    def reserve_bug_ids(self, block: int) -> int:
        if block < 1:
            raise ValueError(f"reserve_bug_ids: block must be 1 or more, not {block}")
        with self._write() as conn:
            last = highest_bug_id(conn) + block
            set_reserved(conn, last)
            return last

    # -- events -------------------------------------------------------------------------------
    def add_events(
        self, events: list[Event], reopen_bug_ids: Iterable[int] = frozenset()
    ) -> list[BugOccurrences]:
        with self._write() as conn:
            merged = aliases_of(conn, (event.fingerprint for event in events))
            events, reopen = remap_merged(events, merged, frozenset(reopen_bug_ids))
            added = [event for event in events if insert_event(conn, event)]
            return _apply_occurrences(conn, occurrences_of(added, reopen))

    def get_events(
        self, bug_id: int, *, page: int = 1, size: int = 50, cursor: str | None = None
    ) -> EventPage:
        with self._read() as conn:
            return bug_events(conn, bug_id, page, size, cursor)

    def get_event(self, event_id: str) -> Event | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {EVENT_FIELDS_SQL} FROM events WHERE id = ?", (event_id,)
            ).fetchone()
        return event_from_row(row) if row else None

    def purge_events(self, cutoffs: Cutoffs) -> dict[str, int]:
        with self._write() as conn:
            return drop_expired(conn, cutoffs)

    # -- search -------------------------------------------------------------------------------
    def search_bugs(self, query: BugQuery) -> BugPage:
        with self._read() as conn:
            return search_bugs(conn, query)

    def search_events(self, query: EventQuery) -> EventPage:
        with self._read() as conn:
            return search_events(conn, query)

    # -- projects -----------------------------------------------------------------------------
    def ensure_project(
        self, project_id: str, *, repo_url: str | None = None, repo_url_warning: str | None = None
    ) -> Project:
        with self._write() as conn:
            project = _get_project(conn, project_id)
            if project is None:
                initial = {"repo_url": repo_url or None, "repo_url_warning": repo_url_warning}
                return _insert_project(conn, project_id, initial)
            changes = reported_repo_url(project, repo_url, repo_url_warning)
            return _update_project(conn, project, changes) if changes else project

    def get_project(self, project_id: str) -> Project | None:
        with self._read() as conn:
            return _get_project(conn, project_id)

    def get_project_by_number(self, number: int) -> Project | None:
        with self._read() as conn:
            row = conn.execute(f"{PROJECT_SELECT} WHERE id = ?", (number,)).fetchone()
        return None if row is None else project_from_row(row)

    def list_projects(self) -> list[Project]:
        with self._read() as conn:
            rows = conn.execute(f"{PROJECT_SELECT} ORDER BY project_id").fetchall()
        return [project_from_row(row) for row in rows]

    def update_project(self, project_id: str, changes: Mapping[str, Any]) -> Project:
        edit = project_edit(changes)
        with self._write() as conn:
            project = _get_project(conn, project_id)
            if project is None:
                return _insert_project(conn, project_id, edit)
            return _update_project(conn, project, edit)

    def set_project_toolchain(self, project_id: str, toolchain: ToolchainInfo) -> Project:
        with self._write() as conn:
            project = _get_project(conn, project_id)
            if project is None:
                raise NotFound(f"project {project_id!r} not found")
            updated = project.model_copy(update={"toolchain": toolchain})
            _write_project(conn, updated)
            return updated

    # -- saved searches -----------------------------------------------------------------------
    def save_search(self, search: SavedSearchIn, search_id: int | None = None) -> SavedSearch:
        with self._write() as conn:
            old = _get_search(conn, search_id) if search_id is not None else None
            if search_id is not None and old is None:
                raise NotFound(f"saved search {search_id} not found")
            stored = saved_search(search, search_id or 0, old.created_at if old else None)
            columns = ("name", "created_at", "updated_at", "body")
            if old is None:
                sql = insert_sql("saved_searches", columns) + " RETURNING id"
                values = search_values(stored)
            else:
                assignments = ", ".join(f"{c} = ?" for c in columns)
                sql = f"UPDATE saved_searches SET {assignments} WHERE id = ? RETURNING id"
                values = (*search_values(stored), old.id)
            try:
                cur = conn.execute(sql, values)
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"a saved search is already named {search.name!r}") from exc
            return stored.model_copy(update={"id": int(cur.fetchone()[0])})

    def get_search(self, search_id: int) -> SavedSearch | None:
        with self._read() as conn:
            return _get_search(conn, search_id)

    def list_searches(self) -> list[SavedSearch]:
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM saved_searches ORDER BY name, id").fetchall()
        return [search_from_row(row) for row in rows]

    def delete_search(self, search_id: int) -> bool:
        with self._write() as conn:
            cur = conn.execute("DELETE FROM saved_searches WHERE id = ?", (search_id,))
            return cur.rowcount > 0

    # -- repair reports -----------------------------------------------------------------------
    def add_repair_report(self, report: RepairReportIn) -> RepairReport:
        now = to_micros(utcnow())
        with self._write() as conn:
            row = conn.execute(
                "SELECT project_id FROM bugs WHERE id = ?", (report.bug_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"bug {report.bug_id} not found")
            cur = conn.execute(
                "INSERT INTO repair_reports (bug_id, project_id, round, passed, created_at, body) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    report.bug_id,
                    row["project_id"],
                    report.round,
                    int(report.passed),
                    now,
                    report_body(report),
                ),
            )
            return report_from_row(cur.fetchone())

    def list_repair_reports(
        self,
        *,
        bug_id: int | None = None,
        project_id: str | None = None,
        passed: bool | None = None,
        page: int = 1,
        size: int = 50,
    ) -> tuple[int, list[RepairReport]]:
        conditions = {
            "bug_id": bug_id,
            "project_id": project_id,
            "passed": None if passed is None else int(passed),
        }
        used = {k: v for k, v in conditions.items() if v is not None}
        where = " AND ".join(f"{k} = ?" for k in used) or "1"
        order = "round, id" if bug_id is not None else "created_at DESC, id DESC"
        with self._read() as conn:
            total = conn.execute(
                f"SELECT count(*) FROM repair_reports WHERE {where}", list(used.values())
            ).fetchone()[0]
            rows = conn.execute(
                f"SELECT * FROM repair_reports WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*used.values(), size, (max(page, 1) - 1) * size],
            ).fetchall()
        return int(total), [report_from_row(row) for row in rows]


# -- helpers working inside a transaction ----------------------------------------------------


def _out_of_space(exc: BaseException) -> bool:
    """A write failed for want of disk (SQLITE_FULL, or an I/O error such as ENOSPC)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and code & 0xFF in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)
    )


def _get_bug(conn: sqlite3.Connection, bug_id: int) -> Bug | None:
    row = conn.execute(f"{BUG_SELECT} WHERE id = ?", (bug_id,)).fetchone()
    return None if row is None else bug_from_row(row)


def _ids_by_fingerprint(conn: sqlite3.Connection, fingerprints: list[str]) -> dict[str, int]:
    found = ids_by_fingerprint(conn, "bugs", "id", fingerprints)
    return {**aliases_of(conn, fingerprints), **found}


_ADD_OCCURRENCES = (
    "UPDATE bugs SET count = count + ?, first_seen = min(first_seen, ?), "
    "last_seen = max(last_seen, ?), newest_version = coalesce(?, newest_version), updated_at = ?, "
    "revision = revision + 1 "
    "WHERE id = ?"
)


def _apply_occurrences(
    conn: sqlite3.Connection, occurrences: Iterable[BugOccurrences]
) -> list[BugOccurrences]:
    """Apply counters, the newest version (and reopen) per bug; return them with `reopen` as
    actually applied.

    Counters are one UPDATE of the columns that change: rewriting the whole row touched every
    index of `bugs` and was a fifth of the indexer's time."""
    now = utcnow()
    applied: list[BugOccurrences] = []
    for occ in occurrences:
        bug = _get_bug(conn, occ.bug_id) if occ.reopen else None
        if bug is not None and regresses(bug.status, bug.fixed_version, occ.versions):
            changes: dict[str, Any] = {
                "count": bug.count + occ.count,
                "first_seen": min(bug.first_seen, occ.first_seen),
                "last_seen": max(bug.last_seen, occ.last_seen),
                "newest_version": newest_of(bug.newest_version, occ.versions),
                "updated_at": now,
                "revision": bug.revision + 1,
                **reopen_changes(bug, now),
            }
            write_bug(conn, bug.model_copy(update=changes), text=False)
            applied.append(occ)
            continue
        current = bug.newest_version if bug else _newest_version(conn, occ)
        conn.execute(
            _ADD_OCCURRENCES,
            (
                occ.count,
                to_micros(occ.first_seen),
                to_micros(occ.last_seen),
                newest_of(current, occ.versions),
                to_micros(now),
                occ.bug_id,
            ),
        )
        applied.append(occ.model_copy(update={"reopen": False}) if occ.reopen else occ)
    return applied


def _newest_version(conn: sqlite3.Connection, occ: BugOccurrences) -> str | None:
    """The bug's stored newest version; not read when the occurrences give no version (the
    UPDATE then keeps it)."""
    if all(v is None for v in occ.versions):
        return None
    row = conn.execute("SELECT newest_version FROM bugs WHERE id = ?", (occ.bug_id,)).fetchone()
    return row[0] if row else None


def _get_project(conn: sqlite3.Connection, project_id: str) -> Project | None:
    row = conn.execute(f"{PROJECT_SELECT} WHERE project_id = ?", (project_id,)).fetchone()
    return None if row is None else project_from_row(row)


def _insert_project(
    conn: sqlite3.Connection, project_id: str, fields: Mapping[str, Any]
) -> Project:
    now = utcnow()
    project = Project.model_validate(
        {
            **fields,
            "id": 0,
            "project_id": project_id,
            "public_key": new_public_key(),
            "created_at": now,
            "updated_at": now,
        }
    )
    cur = conn.execute(
        insert_sql("projects", PROJECT_COLUMNS) + " RETURNING id", project_values(project)
    )
    return project.model_copy(update={"id": int(cur.fetchone()[0])})


def _update_project(
    conn: sqlite3.Connection, project: Project, changes: Mapping[str, Any]
) -> Project:
    updated = Project.model_validate({**project.model_dump(), **changes, "updated_at": utcnow()})
    _write_project(conn, updated)
    return updated


def _write_project(conn: sqlite3.Connection, project: Project) -> None:
    assignments = ", ".join(f'"{c}" = ?' for c in PROJECT_COLUMNS)
    conn.execute(
        f"UPDATE projects SET {assignments} WHERE id = ?", [*project_values(project), project.id]
    )


def _get_search(conn: sqlite3.Connection, search_id: int) -> SavedSearch | None:
    row = conn.execute("SELECT * FROM saved_searches WHERE id = ?", (search_id,)).fetchone()
    return search_from_row(row) if row else None
