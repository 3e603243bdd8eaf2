"""What an API process holds for its lifetime, built from settings at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from config.settings import Settings
from ingest.disk import DiskGuard
from ingest.gate import Gate
from ingest.metrics import Latencies
from ingest.project_cache import ProjectCache
from ingest.scrub import DEFAULT_SCRUB_KEYS
from store.base import Store

# A dead Redis refuses connections at once (503 right away); these bound a Redis that hangs,
# without failing a healthy one on a busy machine.
_CONNECT_TIMEOUT = 1.0
_TIMEOUT = 5.0


@dataclass
class Services:
    settings: Settings
    store: Store
    redis: AsyncRedis
    sync_redis: Redis
    gate: Gate
    disk: DiskGuard
    scrub_keys: frozenset[str] = DEFAULT_SCRUB_KEYS
    latencies: Latencies = field(default_factory=Latencies)
    projects: ProjectCache = field(default_factory=ProjectCache)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        from config.wiring import open_configured_store, redis_url

        url = redis_url(settings)
        store = open_configured_store(settings)
        aredis = AsyncRedis.from_url(
            url,
            max_connections=256,
            socket_timeout=_TIMEOUT,
            socket_connect_timeout=_CONNECT_TIMEOUT,
        )
        sredis = Redis.from_url(
            url, socket_timeout=_TIMEOUT, socket_connect_timeout=_CONNECT_TIMEOUT
        )
        gate = Gate(
            aredis,
            sredis,
            store,
            settings.redis_prefix,
            settings.limits.max_backlog,
            rate=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
        )
        keys = frozenset(k.lower() for k in settings.scrub_keys) or DEFAULT_SCRUB_KEYS
        return cls(settings, store, aredis, sredis, gate, DiskGuard.for_settings(settings), keys)

    async def close(self) -> None:
        await self.redis.aclose()
        self.sync_redis.close()
        self.store.close()
