"""The deliverer: reads the alert stream (a consumer group, so several may share it), decides
which rules and channels each fact alerts, and sends off the reading thread with retries and
backoff, recording every delivery and the channel's health in the store.

Light on purpose: it runs as a thread of the indexer process under `logcenter up`, or alone as
`logcenter alerts`. Decisions (cooldown, frequency windows, flood control) live in Redis
(`state.AlertState`); rules and channels are re-read from the store every few seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redis import Redis
from redis.exceptions import RedisError, ResponseError

from config.settings import Settings
from ingest.alerts.fact import Fact, stream_key
from ingest.alerts.message import Language, Message, bug_message, digest_message
from ingest.alerts.rules import Decision, decide
from ingest.alerts.safety import resolver_for
from ingest.alerts.send import Sender, Sent
from ingest.alerts.state import AlertState
from store.alert import AlertChannel, AlertDeliveryIn, AlertRule, Trigger
from store.base import Store
from store.errors import StoreError
from store.models import Bug

log = logging.getLogger("logcenter.alerts")

_GROUP = "deliverers"
_SENDERS = 4


class Cached:
    """Rules, channels and projects' languages from the store, re-read at most every `ttl`
    seconds."""

    def __init__(self, store: Store, ttl: float) -> None:
        self.store, self.ttl = store, ttl
        self._until = 0.0
        self.rules: list[AlertRule] = []
        self.channels: dict[int, AlertChannel] = {}
        self.languages: dict[str, Language] = {}

    def refresh(self) -> None:
        if time.monotonic() < self._until:
            return
        self.rules = [r for r in self.store.list_alert_rules() if r.enabled]
        self.channels = {c.id: c for c in self.store.list_alert_channels()}
        projects = self.store.list_projects()
        self.languages = {p.project_id: p.language for p in projects if p.language}
        self._until = time.monotonic() + self.ttl


class Deliverer:
    def __init__(self, redis: Redis, store: Store, settings: Settings) -> None:
        self.redis, self.store, self.settings = redis, store, settings
        self.stream = stream_key(settings.redis_prefix)
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
        self.state = AlertState(
            redis,
            settings.redis_prefix,
            settings.alerts_flood_window_seconds,
            settings.alerts_flood_first,
        )
        self.cache = Cached(store, settings.alerts_cache_seconds)
        self.sender = Sender(
            resolver_for(settings.alerts_dns_server),
            settings.alerts_allow_private,
            settings.alerts_timeout_seconds,
        )
        self.pool = ThreadPoolExecutor(_SENDERS, thread_name_prefix="alert-send")
        self.stop = threading.Event()
        self.default_language: Language = settings.default_language or "en"

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> None:
        """Deliver until `stop` is set; Redis or store outages are waited out."""
        backoff = 0.5
        while not self.stop.is_set():
            try:
                self.run_once()
                backoff = 0.5
            except (RedisError, StoreError, OSError) as exc:
                log.warning("alerts: %s; retrying in %.1fs", exc, backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception:  # a bug here must not end alerting for the process's lifetime
                log.exception("alerts: unexpected error; going on in %.1fs", backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        self.pool.shutdown(wait=True, cancel_futures=False)

    def run_once(self, block_ms: int = 200) -> int:
        self._ensure_group()
        reply: Any = self.redis.xreadgroup(
            _GROUP, self.consumer, {self.stream: ">"}, count=200, block=block_ms
        )
        entries = [e for _, batch in reply or [] for e in batch]
        if entries:
            self.cache.refresh()
            for _, fields in entries:
                self.handle(Fact.decode(fields))
            ids = [eid for eid, _ in entries]
            self.redis.xack(self.stream, _GROUP, *ids)
            self.redis.xdel(self.stream, *ids)
        self.flush_digests()
        return len(entries)

    def _ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.stream, _GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def start(self) -> threading.Thread:
        """Run in a daemon thread of this process (the indexer's, under `logcenter up`)."""
        thread = threading.Thread(target=self.run, name="alert-deliverer", daemon=True)
        thread.start()
        return thread

    # -- one fact ---------------------------------------------------------------------------
    def handle(self, fact: Fact) -> None:
        if not any(fact.trigger in rule.triggers for rule in self.cache.rules):
            return  # no rule reacts to this kind of fact: not even the bug is read
        bug = self.store.get_bug(fact.bug_id)
        if bug is None:
            return
        decisions = decide(fact, bug, self.cache.rules, self.state, self.store, self.settings)
        notified: set[int] = set()
        for decision in decisions:
            for channel_id in decision.rule.channel_ids:
                channel = self.cache.channels.get(channel_id)
                if channel is None or not channel.enabled or channel_id in notified:
                    continue
                notified.add(channel_id)
                self._alert(channel, decision, bug)

    def _alert(self, channel: AlertChannel, decision: Decision, bug: Bug) -> None:
        trigger = decision.trigger
        item = {"trigger": trigger.value, "bug_id": bug.id, "rule_id": decision.rule.id}
        if not self.state.admit(channel.id, item, time.time()):
            return
        branch = self._branch(bug) if trigger == Trigger.REPAIR_FINISHED else None
        message = bug_message(
            trigger.value,
            bug,
            self._language(bug),
            self.settings.dashboard_link(),
            window=decision.window,
            branch=branch,
        )
        self.pool.submit(self.deliver, channel, message, decision.rule.id)

    def _language(self, bug: Bug) -> Language:
        return self.cache.languages.get(bug.project_id, self.default_language)

    def _branch(self, bug: Bug) -> str | None:
        _, reports = self.store.list_repair_reports(bug_id=bug.id, size=1000)
        return next((r.branch for r in reversed(reports) if r.branch), None)

    # -- digests ----------------------------------------------------------------------------
    def flush_digests(self) -> None:
        for channel_id, items in self.state.due_digests(time.time()):
            channel = self.store.get_alert_channel(channel_id)
            if channel is None or not channel.enabled:
                continue
            named: list[tuple[str, Bug]] = []
            for item in items[: self.settings.alerts_digest_items]:
                bug = self.store.get_bug(int(str(item["bug_id"])))
                if bug is not None:
                    named.append((str(item["trigger"]), bug))
            language = self._language(named[0][1]) if named else self.default_language
            message = digest_message(named, len(items), language, self.settings.dashboard_link())
            self.pool.submit(self.deliver, channel, message, None)

    # -- sending ----------------------------------------------------------------------------
    def deliver(self, channel: AlertChannel, message: Message, rule_id: int | None) -> Sent:
        """Send with retries and backoff; record the delivery (and the channel's health)."""
        attempts, sent = 0, Sent(False)
        for attempt in range(self.settings.alerts_retries + 1):
            attempts = attempt + 1
            sent = self.sender.send(channel, message)
            if sent.ok or not sent.retryable or self.stop.is_set():
                break
            if attempt < self.settings.alerts_retries:
                time.sleep(self.settings.alerts_retry_backoff_seconds * 2**attempt)
        record = AlertDeliveryIn(
            channel_id=channel.id,
            rule_id=rule_id,
            trigger=message.trigger,
            bug_ids=message.bug_ids,
            ok=sent.ok,
            attempts=attempts,
            status_code=sent.status_code,
            response=sent.response,
        )
        try:
            self.store.add_alert_delivery(record)
        except StoreError as exc:
            log.warning("alerts: delivery to channel %d not recorded: %s", channel.id, exc)
        if not sent.ok:
            log.warning(
                "alerts: channel %d (%s) failed after %d attempts: status %s",
                channel.id,
                channel.kind,
                attempts,
                sent.status_code,
            )
        return sent


def main(settings: Settings | None = None, *, on_ready: Callable[[], object] | None = None) -> None:
    """Run one deliverer on its own until SIGTERM/SIGINT (`logcenter alerts`)."""
    import signal

    from config.settings import get_settings
    from config.wiring import open_configured_store, redis_url

    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    redis = Redis.from_url(redis_url(settings), socket_timeout=10)
    deliverer = Deliverer(redis, open_configured_store(settings), settings)

    def stop(*_: object) -> None:
        deliverer.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("alert deliverer %s reading %s", deliverer.consumer, deliverer.stream)
    if on_ready:
        on_ready()
    deliverer.run()
