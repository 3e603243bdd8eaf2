"""Retention on SQLite: delete each project's occurrences stamped before its cutoff.

Projects with a cutoff of their own are deleted through the (project_id, timestamp) index, the
rest by time; each delete is counted per project first, so the purge can say what it dropped.
Bugs (counts, first and last seen, history) are rows of their own and are not touched; texts
and stacks no event uses any more go with the events.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

from store.retention import Cutoffs
from store.sqlite.event_text import purge_unused_texts
from store.sqlite.schema import to_micros
from store.sqlite.stack import purge_unused_stacks


def drop_expired(conn: sqlite3.Connection, cutoffs: Cutoffs) -> dict[str, int]:
    """Delete what `cutoffs` drops (inside the caller's write transaction); {project: count}."""
    dropped: Counter[str] = Counter()
    own = sorted(cutoffs.projects)
    for project_id in own:
        before = to_micros(cutoffs.projects[project_id])
        cur = conn.execute(
            "DELETE FROM events WHERE project_id = ? AND timestamp < ?", (project_id, before)
        )
        dropped[project_id] += cur.rowcount
    marks = ", ".join("?" for _ in own)
    where = f"timestamp < ? AND project_id NOT IN ({marks})"
    args = (to_micros(cutoffs.default), *own)
    rows = conn.execute(
        f"SELECT project_id, count(*) FROM events WHERE {where} GROUP BY project_id", args
    )
    dropped.update({str(project_id): int(n) for project_id, n in rows})
    conn.execute(f"DELETE FROM events WHERE {where}", args)
    if any(dropped.values()):
        purge_unused_texts(conn)
        purge_unused_stacks(conn)
    return {project_id: n for project_id, n in sorted(dropped.items()) if n}
