"""Sentry envelopes: a JSON header line, then items, each a JSON header line and a payload.

An item's payload is `length` bytes when its header gives a length, else the rest of its line.
Only `event` items are read further (ingest.sentry.event); every other kind an SDK sends
(transactions, sessions, client reports, attachments, replays, logs...) is accepted and skipped.
The envelope is read as it is decompressed and skipped items are never held, so an envelope
with a large attachment costs the memory of its event alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from ingest.sentry.decompress import BodyError

#: Items per envelope at most: SDKs send one event with a few attachments or reports.
MAX_ITEMS = 100
#: A header line (the envelope's or an item's) at most.
MAX_HEADER_BYTES = 64 * 1024
#: Nesting an event may have at most. SDKs nest a few levels (contexts, request data); what
#: goes deeper would only exhaust the recursion of the code that scrubs and clamps contexts.
MAX_DEPTH = 64


@dataclass
class Envelope:
    header: dict[str, Any]
    #: The payloads of the `event` items, in order (other items are dropped when parsed).
    events: list[bytes] = field(default_factory=list)


@dataclass
class EnvelopeReader:
    """Parses an envelope fed in pieces (`feed`, then `finish`); BodyError when it is not one:
    400 for a malformed envelope, 413 for an event over `max_event_bytes`."""

    max_event_bytes: int
    _buffer: bytearray = field(default_factory=bytearray)
    _header: dict[str, Any] | None = None
    _events: list[bytes] = field(default_factory=list)
    _items: int = 0
    #: Reading a header line, a payload of known length, or a payload that ends its line.
    _state: Literal["line", "length", "rest"] = "line"
    _left: int = 0
    _keep: bool = False
    _payload: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer and self._step():
            pass
        if self._state == "line" and len(self._buffer) > MAX_HEADER_BYTES:
            raise BodyError(400, f"envelope: a header line is over {MAX_HEADER_BYTES} bytes")

    def finish(self) -> Envelope:
        if self._state == "length" and self._left:
            raise BodyError(400, f"envelope: item {self._items} is shorter than its length")
        if self._state == "rest":
            self._take(bytes(self._buffer))
            self._done()
        elif self._buffer.strip() or self._header is None:
            self._line(bytes(self._buffer))
            if self._state == "length" and self._left:
                raise BodyError(400, f"envelope: item {self._items} is shorter than its length")
            if self._state != "line":
                self._done()
        return Envelope(self._header or {}, self._events)

    def _step(self) -> bool:
        """Consume what the buffer allows; False when more input is needed."""
        if self._state == "length":
            taken = bytes(self._buffer[: self._left])
            del self._buffer[: len(taken)]
            self._left -= len(taken)
            self._take(taken)
            if not self._left:
                self._done()  # the newline after the payload, if any, reads as a blank line
            return True
        end = self._buffer.find(b"\n")
        if end < 0:
            if self._state == "rest":
                self._take(bytes(self._buffer))
                self._buffer.clear()
            return False
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        if self._state == "rest":
            self._take(line)
            self._done()
        else:
            self._line(line)
        return True

    def _line(self, line: bytes) -> None:
        if self._header is None:
            self._header = json_object(line, "envelope header")
            return
        if not line.strip():
            return  # a blank line: after a payload of known length, or between items
        self._items += 1
        if self._items > MAX_ITEMS:
            raise BodyError(400, f"envelope: more than {MAX_ITEMS} items")
        header = json_object(line, f"item {self._items} header")
        self._keep = header.get("type") == "event"
        length = header.get("length")
        if length is None:
            self._state = "rest"
            return
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise BodyError(400, f"envelope: item {self._items} has a bad length {length!r}")
        self._state, self._left = "length", length
        self._take(b"")
        if not length:
            self._done()

    def _take(self, data: bytes) -> None:
        if not self._keep:
            return
        self._payload += data
        if len(self._payload) + self._left > self.max_event_bytes:
            raise BodyError(413, f"an event exceeds the limit of {self.max_event_bytes} bytes")

    def _done(self) -> None:
        if self._keep:
            self._events.append(bytes(self._payload))
        self._payload.clear()
        self._state, self._left, self._keep = "line", 0, False


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
