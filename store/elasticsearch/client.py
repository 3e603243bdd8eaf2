"""Low-level helpers over the official client: error translation, OCC documents, counters."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import orjson
from elasticsearch import (
    ApiError,
    BadRequestError,
    ConflictError,
    Elasticsearch,
    NotFoundError,
    TransportError,
)
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from store.elasticsearch.mapping import bug_doc
from store.errors import Conflict, QueryError, StoreError, Unavailable
from store.models import Bug

P = ParamSpec("P")
R = TypeVar("R")

#: How often an optimistic write is retried before giving up with Conflict.
OCC_RETRIES = 50
_UNAVAILABLE_STATUSES = frozenset({429, 502, 503, 504})
#: A write refused by an index block: the last seconds of a copy into a new generation
#: (store.elasticsearch.generation), or a full disk. Both pass: the writer should retry.
BLOCKED = "cluster_block_exception"


def reason(exc: ApiError) -> str:
    """The most specific message in an Elasticsearch error response."""
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    while isinstance(error, dict):
        causes = error.get("root_cause") or error.get("failed_shards")
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            error = cause
            continue
        if causes and isinstance(causes, list) and isinstance(causes[0], dict):
            nested = causes[0].get("reason", causes[0])
            if isinstance(nested, dict) and nested is not error:
                error = nested
                continue
        return str(error.get("reason") or error.get("type") or exc.message)
    return str(exc.message)


class _OrjsonNdjson(NdjsonSerializer):
    """Bulk bodies (one JSON document a line) encoded with orjson."""

    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default)

    def json_loads(self, data: bytes) -> Any:
        return orjson.loads(data)


def serializers() -> dict[str, Any]:
    """orjson for requests and responses: bulk bodies and search answers are the bulk of the
    indexer's and the API's client-side work (the client's default is the json module)."""
    return {"application/json": OrjsonSerializer(), "application/x-ndjson": _OrjsonNdjson()}


def translated(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn client exceptions into store.errors (Unavailable for the retryable ones)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TransportError as exc:
            raise Unavailable(f"Elasticsearch: {exc}") from exc
        except ApiError as exc:
            if exc.status_code in _UNAVAILABLE_STATUSES or exc.error == BLOCKED:
                raise Unavailable(f"Elasticsearch: {reason(exc)}") from exc
            raise StoreError(f"Elasticsearch: {reason(exc)}") from exc

    return wrapper


@contextmanager
def query_errors(what: str) -> Iterator[None]:
    """A request Elasticsearch refuses as malformed is the caller's query problem."""
    try:
        yield
    except BadRequestError as exc:
        raise QueryError(f"{what}: {reason(exc)}") from exc


@dataclass
class BugDoc:
    """A stored bug with what optimistic concurrency and exact counting need."""

    fingerprint: str
    bug: Bug
    count_base: int
    purged_before: datetime | None
    count_epoch: int
    seq_no: int
    primary_term: int

    def document(self, bug: Bug, *, count_base: int | None = None) -> dict[str, Any]:
        """The full document of `bug` keeping this one's counting fields."""
        return bug_doc(
            bug,
            count_base=self.count_base if count_base is None else count_base,
            purged_before=self.purged_before,
            count_epoch=self.count_epoch,
        )


def bug_doc_from_hit(hit: dict[str, Any]) -> BugDoc:
    source = dict(hit["_source"])
    count_base = int(source.pop("count_base", 0))
    count_epoch = int(source.pop("count_epoch", 0))
    purged = source.pop("purged_before", None)
    source.pop("tokens", None)
    return BugDoc(
        fingerprint=hit["_id"],
        bug=Bug.model_validate(source),
        count_base=count_base,
        purged_before=datetime.fromisoformat(purged) if purged else None,
        count_epoch=count_epoch,
        seq_no=int(hit["_seq_no"]),
        primary_term=int(hit["_primary_term"]),
    )


def with_occ(what: str, attempt: Callable[[], R]) -> R:
    """Run a read-modify-write `attempt` until it does not meet a concurrent write.

    `attempt` reads what it needs and writes with if_seq_no (or create): a ConflictError
    means another writer came first, so it runs again on fresh data.
    """
    for _ in range(OCC_RETRIES):
        try:
            return attempt()
        except ConflictError:
            continue
    raise Conflict(f"{what}: too much contention, try again")


def bulk_conflicts(
    es: Elasticsearch, operations: list[dict[str, Any]], refresh: bool = False
) -> list[tuple[str, bool]]:
    """Run a bulk request; per item (_id, True when it hit a version or create conflict).

    Any other item failure raises StoreError (Unavailable for a write block): a conflict is an
    expected answer, not a failure.
    """
    resp = es.bulk(operations=operations, refresh=refresh)
    out: list[tuple[str, bool]] = []
    for item in resp["items"]:
        result = next(iter(item.values()))
        status = int(result["status"])
        if status >= 300 and status != 409:
            error = result.get("error")
            blocked = isinstance(error, dict) and error.get("type") == BLOCKED
            failed = Unavailable if blocked else StoreError
            raise failed(f"{result['_index']}/{result['_id']}: {error}")
        out.append((str(result["_id"]), status == 409))
    return out


def next_counter(
    es: Elasticsearch, index: str, name: str, block: int, floor: Callable[[], int] = lambda: 0
) -> int:
    """Advance the counter document `name` by `block` under OCC; return its new value.

    The counter never falls behind `floor()` (e.g. the highest id already stored).
    """

    def attempt() -> int:
        doc = _counter_doc(es, index, name)
        current = floor() if doc is None else max(int(doc["_source"]["value"]), floor())
        _write_counter(es, index, name, current + block, doc)
        return current + block

    return with_occ(f"counter {name!r}", attempt)


def raise_counter(es: Elasticsearch, index: str, name: str, value: int) -> None:
    """Make the counter document `name` at least `value` (ids copied in are never reissued)."""

    def attempt() -> None:
        doc = _counter_doc(es, index, name)
        if doc is None or int(doc["_source"]["value"]) < value:
            _write_counter(es, index, name, value, doc)

    with_occ(f"counter {name!r}", attempt)


def _counter_doc(es: Elasticsearch, index: str, name: str) -> Any:
    try:
        return es.get(index=index, id=name)
    except NotFoundError:
        return None


def _write_counter(es: Elasticsearch, index: str, name: str, value: int, read: Any) -> None:
    """Create the counter, or replace the one `read` unless it changed since (ConflictError)."""
    if read is None:
        es.create(index=index, id=name, document={"value": value}, refresh=True)
        return
    es.index(
        index=index,
        id=name,
        document={"value": value},
        refresh=True,
        if_seq_no=read["_seq_no"],
        if_primary_term=read["_primary_term"],
    )


def counter_value(es: Elasticsearch, index: str, name: str) -> int:
    try:
        return int(es.get(index=index, id=name)["_source"]["value"])
    except NotFoundError:
        return 0
