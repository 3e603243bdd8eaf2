"""One request to a Sentry endpoint, from its body to the reply an SDK expects.

Events join the report pipeline unchanged (`ingest.pipeline.accept`: scrubbing, limits,
fingerprint, the gate with its rate limit). The DSN key stands in for the project's ingest
key, which guards the guide's report endpoint only. An `event_id` already admitted within
`sentry_dedup_seconds` is answered but not counted again: SDKs resend what they think was lost.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable, Mapping
from typing import Literal

import orjson
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ingest.disk import RETRY_AFTER
from ingest.gate import BacklogFull, RateLimited
from ingest.pipeline import accept
from ingest.routes.reports import Reply
from ingest.sentry.auth import dsn_key, header_key, key_matches
from ingest.sentry.decompress import BodyError, decompressed
from ingest.sentry.envelope import Envelope, EnvelopeReader, check_depth, json_object
from ingest.sentry.event import event_report
from ingest.services import Services
from store.errors import Unavailable
from store.models import Project
from store.vocabulary import DEFAULT_GROUPING

Endpoint = Literal["envelope", "store"]
_EVENT_ID = re.compile(r"[0-9a-f]{32}")


class Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def error(status: int, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> Reply:
    return Reply(status, orjson.dumps({"detail": detail}), headers)


async def receive(
    services: Services,
    number: str,
    endpoint: Endpoint,
    chunks: AsyncIterable[bytes],
    headers: Mapping[str, str],
    query_key: str,
) -> Reply:
    """Authenticate, read and admit what an SDK sent to `/api/<number>/<endpoint>/`."""
    found = number.isascii() and number.isdigit() and len(number) <= 18
    try:
        project = await services.projects.by_number(services.store, int(number)) if found else None
    except Unavailable:
        return error(503, "the store cannot be read; retry later", _retry(5))
    if project is None:
        return error(404, f"no project has the id {number!r}")
    given = query_key or header_key(headers)
    if given and not key_matches(project, given):
        return error(403, "the DSN key is not this project's")
    if low := services.disk.problem():
        return error(503, f"{low}; retry later", _retry(RETRY_AFTER))
    try:
        envelope = await _read(services, endpoint, chunks, headers.get("content-encoding", ""))
        given = given or dsn_key(envelope.header.get("dsn"))
        events, header_id = envelope.events, envelope.header.get("event_id")
        if not given:
            return error(401, "a DSN key is required (X-Sentry-Auth, ?sentry_key= or dsn)")
        if not key_matches(project, given):
            return error(403, "the DSN key is not this project's")
        ids = [await _admit(services, project, raw, header_id) for raw in events]
    except BodyError as exc:
        return error(exc.status, str(exc))
    except Refused as exc:
        return exc.reply
    return Reply(200, orjson.dumps({"id": ids[-1] if ids else _event_id(header_id)}))


async def _read(
    services: Services, endpoint: Endpoint, chunks: AsyncIterable[bytes], encoding: str
) -> Envelope:
    """The envelope sent (a store body is an envelope of one event, without a header)."""
    limits = services.settings.limits
    if endpoint == "store":
        parts = []
        async for part in decompressed(chunks, encoding, limits.max_body_bytes):
            parts.append(part)
        return Envelope({}, [b"".join(parts)])
    reader = EnvelopeReader(limits.max_body_bytes)
    async for part in decompressed(chunks, encoding, limits.max_envelope_bytes):
        reader.feed(part)
    return reader.finish()


async def _admit(services: Services, project: Project, raw: bytes, header_id: object) -> str:
    """Admit one event unless its event_id was admitted lately; its event_id."""
    limits = services.settings.limits
    if not raw.strip():
        raise BodyError(400, "event: empty")
    event = json_object(raw, "event")
    check_depth(event, "event")
    event_id = _event_id(event.get("event_id") or header_id)
    try:
        report = event_report(event, project.project_id)
    except ValidationError as exc:
        raise BodyError(400, f"event: {exc.errors(include_url=False)[0]['msg']}") from None
    seen = f"{services.settings.redis_prefix}sentry:{project.id}:{event_id}"
    try:
        if not await services.redis.set(
            seen, 1, nx=True, ex=services.settings.sentry_dedup_seconds
        ):
            return event_id
        try:
            grouping = project.grouping or DEFAULT_GROUPING
            await accept(services.gate, report, limits, services.scrub_keys, None, grouping)
        except BaseException:
            await services.redis.delete(seen)  # not admitted: a retry must count
            raise
    except RateLimited as exc:
        limited = (
            (b"retry-after", b"%d" % exc.retry_after),
            (b"x-sentry-rate-limits", b"%d:error:project" % exc.retry_after),
        )
        raise Refused(error(429, str(exc), limited)) from None
    except BacklogFull:
        raise Refused(error(503, "ingest backlog is full; retry later", _retry(5))) from None
    except (RedisConnectionError, RedisTimeoutError, OSError):
        raise Refused(error(503, "ingest buffer (Redis) is unreachable", _retry(2))) from None
    return event_id


def _event_id(value: object) -> str:
    """The event's id as Sentry writes it (32 hex digits); a new one when it has none."""
    if isinstance(value, str):
        candidate = value.replace("-", "").lower()
        if _EVENT_ID.fullmatch(candidate):
            return candidate
    return uuid.uuid4().hex


def _retry(seconds: int) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"retry-after", b"%d" % seconds),)
