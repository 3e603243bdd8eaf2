"""Sentry envelopes: a JSON header line, then items, each a JSON header line and a payload.

An item's payload is `length` bytes when its header gives a length, else the rest of its line.
Only `event` items are read further (ingest.sentry.event); every other kind an SDK sends
(transactions, sessions, client reports, attachments, replays, logs...) is accepted and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ingest.sentry.decompress import BodyError

#: Items per envelope at most: SDKs send one event with a few attachments or reports.
MAX_ITEMS = 100
#: Nesting an event may have at most. SDKs nest a few levels (contexts, request data); what
#: goes deeper would only exhaust the recursion of the code that scrubs and clamps contexts.
MAX_DEPTH = 64


@dataclass
class Envelope:
    header: dict[str, Any]
    #: The payloads of the `event` items, in order (other items are dropped when parsed).
    events: list[bytes] = field(default_factory=list)


def parse_envelope(body: bytes) -> Envelope:
    """The envelope in `body`; BodyError(400) when it is not one."""
    line, pos = _line(body, 0)
    envelope = Envelope(json_object(line, "envelope header"))
    items = 0
    while pos < len(body):
        line, pos = _line(body, pos)
        if not line.strip():
            continue  # a trailing newline, or an SDK's blank line between items
        items += 1
        if items > MAX_ITEMS:
            raise BodyError(400, f"envelope: more than {MAX_ITEMS} items")
        header = json_object(line, f"item {items} header")
        length = header.get("length")
        if length is None:
            payload, pos = _line(body, pos)
        else:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise BodyError(400, f"envelope: item {items} has a bad length {length!r}")
            if pos + length > len(body):
                raise BodyError(400, f"envelope: item {items} is shorter than its length")
            payload = body[pos : pos + length]
            pos += length
            if pos < len(body) and body[pos : pos + 1] == b"\n":
                pos += 1
        if header.get("type") == "event":
            envelope.events.append(payload)
    return envelope


def _line(body: bytes, pos: int) -> tuple[bytes, int]:
    """The line starting at `pos` (without its newline) and where the next one starts."""
    end = body.find(b"\n", pos)
    if end < 0:
        return body[pos:], len(body)
    return body[pos:end], end + 1


def check_depth(value: Any, what: str) -> None:
    """BodyError(400) when `value` nests deeper than MAX_DEPTH (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BodyError(400, f"{what}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            pending.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            pending.extend((child, depth + 1) for child in node)


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """A JSON object (a header, an event, a store body); BodyError(400) otherwise."""
    try:
        value = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"envelope: {what} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BodyError(400, f"envelope: {what} is not a JSON object")
    return value
