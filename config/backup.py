"""`logcenter backup` / `logcenter restore`: the embedded install in one archive, taken live.

What an install needs to carry on is the SQLite store, the admin token and what Redis holds that
the store does not: the stream of acknowledged reports not yet indexed (with its consumer group),
queued repairs, rate-limit counters. The archive is a gzipped tar of

- `redis.jsonl`: every key of the install (all keys of the embedded server; the install's
  prefix and RQ's keys on a shared one), each as Redis's own DUMP serialization with its TTL;
- `logcenter.db`: a consistent copy of the SQLite file made with SQLite's online backup API
  while the indexer keeps writing (one step under a read transaction of the WAL database);
- `admin_token` when the data dir holds one, and `manifest.json` (what was copied, when).

Redis is copied first. A report acknowledged in between is then in both copies, and replaying
it is harmless: the indexer stores occurrences idempotently on their stream id. The gate's
fingerprint -> id keys may be older than the store's bugs, so `restore` drops the gate's
"loaded" flag and the gate reloads itself from the restored store before it admits a report.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from redis import Redis

from config.settings import TOKEN_FILE, Settings
from ingest.gate import Keys

#: Archive member names.
DATABASE = "logcenter.db"
REDIS_KEYS = "redis.jsonl"
MANIFEST = "manifest.json"
FORMAT = 1
#: Keys RQ keeps on a shared Redis (queued repairs, their jobs and registries).
RQ_PATTERN = "rq:*"
#: The idle time given to entries pending under the old indexers (a day, in ms).
_LONG_IDLE_MS = 86_400_000

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot proceed; the message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    redis_keys: int
    database_bytes: int
    bugs: int
    events: int


def backup(settings: Settings, redis: Redis, target: Path, progress: Progress = print) -> Summary:
    """Write the install's archive to `target` (written aside, then renamed into place)."""
    database = _sqlite_path(settings)
    if not database.exists():
        raise BackupError(f"no store at {database}: nothing to back up")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".backup-") as tmp:
        work = Path(tmp)
        keys = _dump_redis(redis, _patterns(settings), work / REDIS_KEYS)
        progress(f"redis: {keys:,} keys copied")
        bugs, events = _copy_database(database, work / DATABASE, progress)
        size = (work / DATABASE).stat().st_size
        progress(f"store: {bugs:,} bugs, {events:,} occurrences ({size / 1e6:,.1f} MB) copied")
        manifest = {
            "format": FORMAT,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "redis_prefix": settings.redis_prefix,
            "redis_keys": keys,
            "bugs": bugs,
            "events": events,
        }
        (work / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        partial = work / "archive.tar.gz"
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            for name in (MANIFEST, DATABASE, REDIS_KEYS):
                tar.add(work / name, arcname=name)
            token = settings.data_dir / TOKEN_FILE
            if token.exists():
                tar.add(token, arcname=TOKEN_FILE)
        os.replace(partial, target)
    return Summary(keys, size, bugs, events)


def restore(settings: Settings, redis: Redis, archive: Path, progress: Progress = print) -> Summary:
    """Restore `archive` into the configured data dir, which must hold no store yet, and into
    a Redis holding none of the install's keys."""
    database = _sqlite_path(settings)
    if database.exists():
        raise BackupError(f"{database} exists: restore goes into an empty data dir")
    patterns = _patterns(settings)
    if any(True for pattern in patterns for _ in redis.scan_iter(match=pattern, count=100)):
        raise BackupError("Redis already holds this install's keys: restore needs an empty one")
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the `with` below
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive}: not a Log Center backup ({exc})") from exc
    with tar, tempfile.TemporaryDirectory(dir=database.parent, prefix=".restore-") as tmp:
        work = Path(tmp)
        names = set(tar.getnames())
        if not {MANIFEST, DATABASE, REDIS_KEYS} <= names:
            raise BackupError(f"{archive}: not a Log Center backup (members: {sorted(names)})")
        tar.extractall(work, members=_members(tar), filter="data")
        manifest = orjson.loads((work / MANIFEST).read_bytes())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"{archive}: backup format {manifest.get('format')} is unknown")
        keys = _load_redis(redis, work / REDIS_KEYS)
        _release_pending(redis)
        # The gate reloads fingerprint -> id and the id sequence from the restored store.
        redis.delete(Keys(str(manifest["redis_prefix"])).loaded)
        redis.save()
        progress(f"redis: {keys:,} keys restored")
        if (work / TOKEN_FILE).exists() and not (settings.data_dir / TOKEN_FILE).exists():
            os.replace(work / TOKEN_FILE, settings.data_dir / TOKEN_FILE)
            os.chmod(settings.data_dir / TOKEN_FILE, 0o600)
        size = (work / DATABASE).stat().st_size
        os.replace(work / DATABASE, database)
    bugs, events = int(manifest["bugs"]), int(manifest["events"])
    progress(f"store: {bugs:,} bugs, {events:,} occurrences restored into {database}")
    return Summary(keys, size, bugs, events)


def _sqlite_path(settings: Settings) -> Path:
    url = settings.resolved_store_url()
    if not url.startswith("sqlite:///"):
        raise BackupError(
            "backup and restore copy the embedded SQLite store; on Elasticsearch use "
            "`logcenter es-snapshot`"
        )
    return Path(url.removeprefix("sqlite:///"))


def _patterns(settings: Settings) -> list[str]:
    """Every key of the embedded server is the install's; on a shared one, only ours."""
    return ["*"] if not settings.redis_url else [f"{settings.redis_prefix}*", RQ_PATTERN]


def _dump_redis(redis: Redis, patterns: list[str], out: Path) -> int:
    count = 0
    with out.open("wb") as handle:
        for key in _keys(redis, patterns):
            pipe = redis.pipeline(transaction=True)
            pipe.dump(key)
            pipe.pttl(key)
            value, ttl = pipe.execute()
            if value is None:  # expired or deleted meanwhile
                continue
            record = {"k": _b64(key), "v": _b64(value), "ttl": max(0, int(ttl))}
            handle.write(orjson.dumps(record) + b"\n")
            count += 1
    return count


def _keys(redis: Redis, patterns: list[str]) -> Iterator[bytes]:
    seen: set[bytes] = set()
    for pattern in patterns:
        for key in redis.scan_iter(match=pattern, count=1000):
            if key not in seen:
                seen.add(key)
                yield key


def _load_redis(redis: Redis, source: Path) -> int:
    count = 0
    pipe = redis.pipeline(transaction=False)
    with source.open("rb") as handle:
        for count, line in enumerate(handle, 1):
            record = orjson.loads(line)
            key, value = base64.b64decode(record["k"]), base64.b64decode(record["v"])
            pipe.restore(key, int(record["ttl"]), value, replace=True)
            if count % 1000 == 0:
                pipe.execute()
    pipe.execute()
    return count


def _release_pending(redis: Redis) -> None:
    """Entries the old indexers had read but not yet stored are pending under consumers that
    are gone: mark them long idle, so the next indexer claims them at its first pass instead of
    after the claim timeout."""
    for key in redis.scan_iter(_type="stream", count=1000):
        for group in redis.xinfo_groups(key):
            name = group["name"]
            start = "-"
            while True:
                pending = redis.xpending_range(key, name, min=start, max="+", count=1000)
                for entry in pending:
                    consumer, entry_id = _text(entry["consumer"]), _text(entry["message_id"])
                    redis.xclaim(
                        key, name, consumer, 0, [entry_id], idle=_LONG_IDLE_MS, justid=True
                    )
                if len(pending) < 1000:
                    break
                start = "(" + _text(pending[-1]["message_id"])


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _copy_database(source: Path, target: Path, progress: Progress) -> tuple[int, int]:
    """SQLite's online backup, in one step: a consistent snapshot while writers go on."""
    progress(f"store: copying {source} ({source.stat().st_size / 1e6:,.1f} MB)")
    src = sqlite3.connect(source, timeout=60)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=-1)
        bugs = int(dst.execute("SELECT count(*) FROM bugs").fetchone()[0])
        events = int(dst.execute("SELECT count(*) FROM events").fetchone()[0])
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file in the archive
    finally:
        dst.close()
        src.close()
    return bugs, events


def _members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Only the archive's own regular files, by their plain names."""
    wanted = {MANIFEST, DATABASE, REDIS_KEYS, TOKEN_FILE}
    return [m for m in tar.getmembers() if m.isfile() and m.name in wanted]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
