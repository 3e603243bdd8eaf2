"""Request bodies of the Sentry endpoints: read and decompressed as they arrive, under a cap.

SDKs compress with gzip, deflate (zlib-wrapped, or raw from some HTTP stacks) or brotli. Each
decoder produces at most one byte past what the cap still allows, so a tiny bomb costs at most
the cap in memory, never what it would expand to.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

import brotli


class BodyError(ValueError):
    """The body cannot be read: `status` is the HTTP answer (400, 413 or 415)."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        super().__init__(detail)


class Decoder(Protocol):
    def feed(self, data: bytes, room: int) -> bytes:
        """Decode `data`; return at most `room` + 1 bytes (more than `room` means over cap)."""

    def finished(self) -> bool:
        """The compressed stream ended properly."""


class Identity:
    def feed(self, data: bytes, room: int) -> bytes:
        return data

    def finished(self) -> bool:
        return True


class Inflate:
    """gzip, zlib or raw deflate; for `deflate` the first bytes say whether a zlib header
    is there (RFC 9110 says it is; some clients send raw deflate all the same)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._inflater: zlib._Decompress | None = None
        if encoding != "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._head = b""

    def feed(self, data: bytes, room: int) -> bytes:
        if self._inflater is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            zlib_header = data[0] & 0x0F == 8 and int.from_bytes(data[:2]) % 31 == 0
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        try:
            out = self._inflater.decompress(data, room + 1)
        except zlib.error as exc:
            raise BodyError(400, f"body: not valid {self.encoding} data ({exc})") from None
        if self._inflater.unconsumed_tail:
            return out + b"\0"  # more is waiting: over the cap whatever `out` holds
        return out

    def finished(self) -> bool:
        return self._inflater is not None and self._inflater.eof


class Brotli:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out: bytes = self._decompressor.process(data, output_buffer_limit=room + 1)
            while len(out) <= room and not self._decompressor.can_accept_more_data():
                out += self._decompressor.process(b"", output_buffer_limit=room + 1 - len(out))
        except brotli.error as exc:
            raise BodyError(400, f"body: not valid br data ({exc})") from None
        return out

    def finished(self) -> bool:
        return bool(self._decompressor.is_finished())


def decoder_for(encoding: str) -> Decoder:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return Identity()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return Inflate("gzip" if encoding == "x-gzip" else encoding)
    if encoding == "br":
        return Brotli()
    raise BodyError(415, f"content-encoding {encoding!r} is not supported (gzip, deflate, br)")


async def decompressed(
    chunks: AsyncIterable[bytes], encoding: str, cap: int
) -> AsyncIterator[bytes]:
    """The body decompressed, piece by piece as it arrives; 413 once more than `cap` bytes
    arrive or come out."""
    decoder = decoder_for(encoding)
    received = 0
    size = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > cap:
            raise BodyError(413, f"body exceeds the limit of {cap} bytes")
        if not chunk:
            continue
        out = decoder.feed(chunk, cap - size)
        size += len(out)
        if size > cap:
            raise BodyError(413, f"decompressed body exceeds the limit of {cap} bytes")
        yield out
    if not decoder.finished():
        raise BodyError(400, "body: the compressed data ends early")
