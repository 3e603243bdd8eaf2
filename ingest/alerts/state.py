"""The deliverer's state in Redis, shared by every deliverer on the install: occurrence counts
per bug per minute (frequency rules), cooldowns per rule, bug and trigger, and per-channel
flood windows with the alerts they hold back for a digest.

Each decision is one atomic Redis command (SET NX, INCR, ZREM), so several deliverers reading
the same stream never send an alert twice nor a digest twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import orjson
from redis import Redis

_DAY_S = 24 * 3600


class AlertState:
    def __init__(self, redis: Redis, prefix: str, window_s: float, first: int) -> None:
        self.redis = redis
        self.prefix = f"{prefix}alerts:"
        self.window_s = window_s
        self.first = first

    # -- frequency ----------------------------------------------------------------------------
    def count_occurrences(self, bug_id: int, count: int, at: float) -> dict[int, int]:
        """Add `count` occurrences at `at` to the bug's minute buckets (a day of them is kept);
        return every bucket, {minute since the epoch: occurrences}."""
        key = f"{self.prefix}freq:{bug_id}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(key, str(int(at // 60)), count)
        pipe.expire(key, _DAY_S + 120)
        pipe.hgetall(key)
        buckets: dict[bytes, bytes] = pipe.execute()[2]
        return {int(m): int(n) for m, n in buckets.items()}

    # -- cooldown -----------------------------------------------------------------------------
    def cool(self, rule_id: int, bug_id: int, trigger: str, seconds: float) -> bool:
        """True when no alert of this rule, bug and trigger went out within `seconds` (and
        starts a new cooldown); False while one is running."""
        if seconds <= 0:
            return True
        key = f"{self.prefix}cool:{rule_id}:{bug_id}:{trigger}"
        return bool(self.redis.set(key, 1, nx=True, px=max(1, int(seconds * 1000))))

    # -- flood control ------------------------------------------------------------------------
    def admit(self, channel_id: int, item: Mapping[str, object], now: float) -> bool:
        """True when the alert may go out now (one of the window's first ones); otherwise it
        is held for the window's digest."""
        window = math.floor(now / self.window_s)
        key = f"{self.prefix}flood:{channel_id}:{window}"
        ttl_ms = int(self.window_s * 2000) + 60_000
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.pexpire(key, ttl_ms)
        seen = int(pipe.execute()[0])
        if seen <= self.first:
            return True
        held = f"{self.prefix}held:{channel_id}:{window}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(held, orjson.dumps(item))
        pipe.pexpire(held, ttl_ms)
        pipe.zadd(self._due, {f"{channel_id}:{window}": (window + 1) * self.window_s}, nx=True)
        pipe.execute()
        return False

    @property
    def _due(self) -> str:
        return f"{self.prefix}digests"

    def due_digests(self, now: float) -> list[tuple[int, list[dict[str, object]]]]:
        """The digests whose window has ended, each taken by exactly one caller:
        (channel id, the alerts held in the window)."""
        taken: list[tuple[int, list[dict[str, object]]]] = []
        members: list[bytes] = self.redis.zrangebyscore(self._due, "-inf", now)  # type: ignore[assignment]
        for member in members:
            if not self.redis.zrem(self._due, member):
                continue  # another deliverer took it
            channel, window = member.decode().split(":")
            held = f"{self.prefix}held:{channel}:{window}"
            pipe = self.redis.pipeline(transaction=True)
            pipe.lrange(held, 0, -1)
            pipe.delete(held)
            items = [orjson.loads(raw) for raw in pipe.execute()[0]]
            if items:
                taken.append((int(channel), items))
        return taken
