"""Snapshots of an install's indices (`logcenter es-snapshot`): Elasticsearch's own backup.

A shared-filesystem repository (`fs`) is registered under a location the node lists in
`path.repo`; a snapshot holds every index and alias under the install's prefix (bugs with
their generation alias, projects, repairs, meta with the id reservations, each day of
occurrences). Restoring needs a cluster without those indices: it refuses to overwrite, and
the restored aliases point at the restored generations as they did. Index templates are not
part of it: the next start of any Log Center process puts them back.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from store.elasticsearch.mapping import IndexNames

#: The repository name an install registers (one per prefix, so installs do not mix).
REPOSITORY_SUFFIX = "snapshots"


class SnapshotError(Exception):
    """A snapshot command that cannot proceed; the message says why."""


def repository_name(names: IndexNames) -> str:
    return f"{names.prefix}{REPOSITORY_SUFFIX}".replace("*", "")


def register(es: Elasticsearch, names: IndexNames, location: str) -> str:
    """Register (or re-point) the install's `fs` repository at `location`; its name."""
    repository = repository_name(names)
    try:
        es.snapshot.create_repository(
            name=repository, repository={"type": "fs", "settings": {"location": location}}
        )
    except Exception as exc:  # the node's own words: e.g. location not under path.repo
        raise SnapshotError(
            f"cannot register {location!r} as a snapshot repository: {exc}"
        ) from exc
    return repository


def take(es: Elasticsearch, names: IndexNames, snapshot: str) -> dict[str, Any]:
    """Snapshot every index of the install, waiting until it is complete."""
    answer = es.snapshot.create(
        repository=repository_name(names),
        snapshot=snapshot,
        indices=f"{names.prefix}*",
        include_global_state=False,
        wait_for_completion=True,
    )
    info: dict[str, Any] = answer["snapshot"]
    if info.get("state") != "SUCCESS":
        raise SnapshotError(
            f"snapshot {snapshot} ended {info.get('state')}: {info.get('failures')}"
        )
    return info


def listed(es: Elasticsearch, names: IndexNames) -> list[dict[str, Any]]:
    """The repository's snapshots, oldest first."""
    try:
        found = es.snapshot.get(repository=repository_name(names), snapshot="_all")
    except NotFoundError as exc:
        raise SnapshotError("no snapshot repository registered: take a snapshot first") from exc
    return list(found["snapshots"])


def restore(es: Elasticsearch, names: IndexNames, snapshot: str) -> list[str]:
    """Restore `snapshot` into a cluster holding none of the install's indices; the indices."""
    present = sorted(es.indices.get(index=f"{names.prefix}*", expand_wildcards="all"))
    if present:
        shown = ", ".join(present[:5]) + (" ..." if len(present) > 5 else "")
        raise SnapshotError(
            f"the cluster already holds this install's indices ({shown}): restore goes into "
            "a cluster without them (delete them, or use another LOGCENTER_ES_INDEX_PREFIX)"
        )
    answer = es.snapshot.restore(
        repository=repository_name(names),
        snapshot=snapshot,
        indices=f"{names.prefix}*",
        include_aliases=True,
        include_global_state=False,
        wait_for_completion=True,
    )
    restored: list[str] = sorted(answer["snapshot"]["indices"])
    return restored
