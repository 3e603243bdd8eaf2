"""Reading report bodies: size limit, gzip, JSON sent as any content type (sendBeacon)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable

from fastapi import HTTPException


async def read_body(
    chunks: AsyncIterable[bytes], limit: int, declared_length: str | None, encoding: str
) -> bytes:
    """The request body, decompressed when gzip-encoded; 413 past `limit` bytes either way."""
    if declared_length and declared_length.isdigit() and int(declared_length) > limit:
        raise _too_large(limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    body = parts[0] if len(parts) == 1 else b"".join(parts)
    encoding = encoding.lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        body = _inflate(body, limit, gzip=encoding != "deflate")
    elif encoding not in ("", "identity"):
        raise HTTPException(415, f"content-encoding {encoding!r} is not supported (use gzip)")
    return body


def _inflate(body: bytes, limit: int, *, gzip: bool) -> bytes:
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | (16 if gzip else 0))
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise HTTPException(
            400, f"body: not valid {'gzip' if gzip else 'deflate'} data ({exc})"
        ) from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _too_large(limit, decompressed=True)
    return out


def _too_large(limit: int, *, decompressed: bool = False) -> HTTPException:
    what = "decompressed body" if decompressed else "body"
    return HTTPException(413, f"{what} exceeds the limit of {limit} bytes")
