"""The Redis gate in front of the store: dedup by fingerprint, id allocation, the stream buffer.

Redis is a gate and a buffer; the store is the truth. Ids come from blocks reserved in the store
(`Store.reserve_bug_ids`), so an id is never handed out twice even when Redis loses every key;
after such a loss the gate reloads fingerprint -> id, statuses and fixed versions from the store
before it admits another report.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from ingest import stream
from store.version import version_keys
from store.vocabulary import REGRESSION_STATUSES, Status

if TYPE_CHECKING:
    from redis.client import Pipeline
    from redis.typing import EncodableT, FieldT

    from store.base import Store

ID_BLOCK = 1000
REBUILD_LOCK_SECONDS = 120
STATUS_FIELD = "status"
#: The bug hash's sort keys (store/version.py) of the version a fixed bug was fixed in.
FIXED_SEMVER_FIELD = "fixed_semver"
FIXED_PEP440_FIELD = "fixed_pep440"


def _lua_string(value: str) -> str:
    """`value` as a Lua string literal; only plain names are expected (nothing to escape)."""
    if not (value.isascii() and value.isidentifier()):
        raise ValueError(f"not a plain name for the gate script: {value!r}")
    return f"'{value}'"


def _lua_set(values: Iterable[str]) -> str:
    """A Lua table holding `values` as keys (sorted: the script text, so its SHA, is stable)."""
    return "{" + ", ".join(f"[{_lua_string(v)}] = true" for v in sorted(values)) + "}"


def _script_source() -> str:
    """gate.lua behind the constants it shares with Python, formatted in once at load time
    (nothing per call): the stream entry's field names, the bug hash's status and fixed
    version fields, the status a bug starts in and the statuses a new occurrence reopens it
    from."""
    names = {
        "FIELD_BUG_ID": stream.BUG_ID,
        "FIELD_FINGERPRINT": stream.FINGERPRINT,
        "FIELD_IS_NEW": stream.IS_NEW,
        "FIELD_REOPENED": stream.REOPENED,
        "FIELD_PAYLOAD": stream.PAYLOAD,
        "STATUS_FIELD": STATUS_FIELD,
        "FIXED_SEMVER_FIELD": FIXED_SEMVER_FIELD,
        "FIXED_PEP440_FIELD": FIXED_PEP440_FIELD,
        "NEW": Status.NEW.value,
    }
    prelude = [f"local {name} = {_lua_string(value)}" for name, value in names.items()]
    prelude.append(f"local REGRESSION = {_lua_set(s.value for s in REGRESSION_STATUSES)}")
    body = importlib.resources.files("ingest").joinpath("gate.lua").read_text()
    return "\n".join([*prelude, body])


_SCRIPT = _script_source()


class BacklogFull(Exception):
    """The stream holds more unindexed reports than the configured bound."""


class IngestKeyRequired(Exception):
    """The project has an ingest key and the report came without it (or with another)."""

    def __init__(self, project_id: str, *, given: bool) -> None:
        self.given = given
        what = "is not valid" if given else "is required (X-LogCenter-Key header or ?key=)"
        super().__init__(f"the ingest key of project {project_id!r} {what}")


class RateLimited(Exception):
    def __init__(self, project_id: str, retry_after_ms: int) -> None:
        self.retry_after = max(1, -(-retry_after_ms // 1000))
        super().__init__(f"project {project_id!r} is over its report rate limit")


@dataclass(frozen=True)
class Admission:
    bug_id: int
    is_new: bool
    status: str
    reopened: bool


@dataclass(frozen=True)
class Keys:
    prefix: str

    def fingerprint(self, fp: str) -> str:
        return f"{self.prefix}fp:{fp}"

    def bug(self, bug_id: int) -> str:
        return f"{self.prefix}bug:{bug_id}"

    def ingest_key(self, project_id: str) -> str:
        return f"{self.prefix}ikey:{project_id}"

    @property
    def no_ingest_key(self) -> str:
        """A key never set: in a report's ingest-key slot it makes the gate require none."""
        return f"{self.prefix}ikey-none"

    def bucket(self, project_id: str) -> str:
        return f"{self.prefix}rl:{project_id}"

    @property
    def sequence(self) -> str:
        return f"{self.prefix}seq"

    @property
    def limit(self) -> str:
        return f"{self.prefix}seq:limit"

    @property
    def stream(self) -> str:
        return f"{self.prefix}stream"

    @property
    def loaded(self) -> str:
        return f"{self.prefix}gate:loaded"

    @property
    def rebuild_lock(self) -> str:
        return f"{self.prefix}gate:rebuilding"

    @property
    def metrics(self) -> str:
        return f"{self.prefix}metrics"

    @property
    def purged(self) -> str:
        """{project id: occurrences retention dropped}, for /metrics."""
        return f"{self.prefix}metrics:purged"

    @property
    def merges(self) -> str:
        """Bumped by every merge of bugs: indexers drop the fingerprint -> id they cached."""
        return f"{self.prefix}merges"

    @property
    def group(self) -> str:
        return "indexers"


#: project, fingerprint, timestamp, payload, ingest key given (None: not asked for), version
Pending = tuple[str, str, str, bytes, str | None, str | None]


class Gate:
    """Admits reports on the hot path (async) and repairs its own state from the store.

    Reports go to Redis in batches, one script call each: those that reach `admit` in the same
    event-loop tick, or while `max_in_flight` calls are out. An idle process sends a report at
    once; a busy one sends one round trip for many reports instead of one per report. Each
    report is still admitted exactly as if it had come alone.
    """

    #: Reports per script call at most (a call blocks Redis while it runs: ~20 us a report).
    max_batch = 64
    #: Script calls out at once per process; reports arriving meanwhile wait for the next.
    max_in_flight = 2

    def __init__(
        self,
        redis: AsyncRedis,
        sync_redis: Redis,
        store: Store,
        prefix: str,
        max_backlog: int,
        rate: float = 0.0,
        burst: int = 0,
    ) -> None:
        self.redis = redis
        self.sync_redis = sync_redis
        self.store = store
        self.keys = Keys(prefix)
        self.max_backlog = max_backlog
        self.rate = rate
        self.burst = max(burst, 1)
        self._script = redis.register_script(_SCRIPT)
        self._pending: list[tuple[Pending, asyncio.Future[list[object]]]] = []
        self._flush_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._repairing: asyncio.Future[None] | None = None
        self._repairs = 0

    async def admit(
        self,
        project_id: str,
        fingerprint: str,
        timestamp: str,
        payload: bytes,
        ingest_key: str | None = "",
        version: str | None = None,
    ) -> Admission:
        """Admit one report. `ingest_key` is the key the client sent ("" for none), checked
        against the project's; None when the report was authenticated otherwise (a Sentry
        DSN's key), so the project's ingest key is not asked for. A report from a `version`
        older than the one its fixed bug was fixed in does not reopen it."""
        report = (project_id, fingerprint, timestamp, payload, ingest_key, version)
        for _ in range(5):
            seen = self._repairs
            result = await self._submit(report)
            code = int(result[0])  # type: ignore[call-overload]
            if code > 0:
                status = result[2].decode() if isinstance(result[2], bytes) else str(result[2])
                return Admission(code, bool(result[1]), status, bool(result[3]))
            if code == -2:
                raise BacklogFull()
            if code in (-4, -5):
                raise IngestKeyRequired(project_id, given=code == -5)
            if code == -6:
                raise RateLimited(project_id, int(result[1]))  # type: ignore[call-overload]
            await self._repair(rebuild if code == -1 else extend_ids, seen)
        raise RuntimeError("ingest gate could not admit the report after reloading its state")

    async def _repair(self, repair: Callable[[Redis, Store, str], None], seen: int) -> None:
        """Blocking store work, off the event loop; rare (once per 1000 new bugs, or after
        Redis lost its keys). The reports refused for it wait for one repair together (and
        are sent again together); one sent before a repair finished just tries again."""
        if self._repairs != seen:
            return
        if self._repairing is None:
            self._repairing = asyncio.ensure_future(self._run_repair(repair))
        await asyncio.shield(self._repairing)

    async def _run_repair(self, repair: Callable[[Redis, Store, str], None]) -> None:
        try:
            await asyncio.to_thread(repair, self.sync_redis, self.store, self.keys.prefix)
        finally:
            self._repairs += 1
            self._repairing = None

    def _submit(self, report: Pending) -> asyncio.Future[list[object]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[object]] = loop.create_future()
        self._pending.append((report, future))
        if not self._flush_scheduled and len(self._in_flight) < self.max_in_flight:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        """Send what is pending, unless `max_in_flight` calls are out: then the first of
        them to come back sends it, so the busier the process, the larger each batch."""
        self._flush_scheduled = False
        while self._pending and len(self._in_flight) < self.max_in_flight:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            task = asyncio.ensure_future(self._send(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._flush()

    async def _send(self, batch: list[tuple[Pending, asyncio.Future[list[object]]]]) -> None:
        keys = self.keys
        script_keys: list[str] = [keys.sequence, keys.limit, keys.stream, keys.loaded]
        args: list[str | bytes | int | float] = [
            self.max_backlog,
            keys.prefix,
            self.rate,
            self.burst,
        ]
        for (project_id, fingerprint, timestamp, payload, ingest_key, version), _ in batch:
            script_keys += (
                keys.fingerprint(fingerprint),
                keys.no_ingest_key if ingest_key is None else keys.ingest_key(project_id),
                keys.bucket(project_id),
            )
            order = version_keys(version)
            args += (fingerprint, timestamp, payload, ingest_key or "")
            args += (order.semver or "", order.pep440 or "")
        try:
            replies = await self._script(keys=script_keys, args=args)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # the same failure for every report of the batch
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if not future.done():
                future.set_result(reply)


_RAISE_LIMIT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


def extend_ids(redis: Redis, store: Store, prefix: str) -> None:
    """Reserve another block of bug ids in the store and let the gate use it."""
    last = store.reserve_bug_ids(ID_BLOCK)
    redis.eval(_RAISE_LIMIT, 1, Keys(prefix).limit, last)


def rebuild(redis: Redis, store: Store, prefix: str, *, wait: float = 60.0) -> None:
    """Reload fingerprint -> id and statuses from the store after Redis lost its keys.

    One process rebuilds (under a lock); the others wait for the loaded flag.
    """
    keys = Keys(prefix)
    if redis.exists(keys.loaded):
        return
    if not redis.set(keys.rebuild_lock, "1", nx=True, ex=REBUILD_LOCK_SECONDS):
        _wait_loaded(redis, keys, wait)
        return
    try:
        pipe = redis.pipeline(transaction=False)
        for n, (fp, bug_id, status, fixed_version) in enumerate(store.iter_bug_keys(), 1):
            pipe.set(keys.fingerprint(fp), bug_id)
            publish_status(pipe, keys, bug_id, status, fixed_version)
            if n % 2000 == 0:
                pipe.execute()
        pipe.execute()
        for project in store.list_projects():
            if project.ingest_key:
                pipe.set(keys.ingest_key(project.project_id), project.ingest_key)
        pipe.execute()
        top = store.max_bug_id()
        # Ids up to `top` may have been handed out: continue after them, in a fresh block.
        redis.eval(_RAISE_LIMIT, 1, keys.sequence, top)
        redis.eval(_RAISE_LIMIT, 1, keys.limit, top)
        redis.set(keys.loaded, "1")
    finally:
        redis.delete(keys.rebuild_lock)


def publish_status(
    pipe: Pipeline, keys: Keys, bug_id: int, status: str, fixed_version: str | None
) -> None:
    """Queue on `pipe` what the gate knows of a bug: its status and the sort keys of the
    version it was fixed in (none: every occurrence reopens it, as without versions)."""
    order = version_keys(fixed_version)
    fixed = {FIXED_SEMVER_FIELD: order.semver, FIXED_PEP440_FIELD: order.pep440}
    present: dict[FieldT, EncodableT] = {STATUS_FIELD: status}
    present.update((name, key) for name, key in fixed.items() if key is not None)
    pipe.hset(keys.bug(bug_id), mapping=present)
    if absent := [name for name, key in fixed.items() if key is None]:
        pipe.hdel(keys.bug(bug_id), *absent)


def _wait_loaded(redis: Redis, keys: Keys, wait: float) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if redis.exists(keys.loaded):
            return
        time.sleep(0.05)
    raise TimeoutError("the ingest gate is being reloaded from the store; try again shortly")


def publish_ingest_key(redis: Redis, prefix: str, project_id: str, key: str | None) -> None:
    """Make the gate require (or stop requiring) a project's ingest key."""
    name = Keys(prefix).ingest_key(project_id)
    if key:
        redis.set(name, key)
    else:
        redis.delete(name)


def publish_merge(
    redis: Redis,
    prefix: str,
    target_id: int,
    fingerprints: Iterable[str],
    merged_ids: Iterable[int],
) -> None:
    """Admit the merged bugs' fingerprints as the target from now on, forget the merged bugs,
    and tell every indexer that ids it cached may be gone. After a loss of Redis keys the
    rebuild finds the same mapping in the store (Store.iter_bug_keys lists the aliases)."""
    keys = Keys(prefix)
    pipe = redis.pipeline(transaction=True)
    for fp in fingerprints:
        pipe.set(keys.fingerprint(fp), target_id)
    for bug_id in merged_ids:
        pipe.delete(keys.bug(bug_id))
    pipe.incr(keys.merges)
    pipe.execute()
