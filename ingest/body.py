"""Reading report bodies: size limit, gzip, JSON sent as any content type (sendBeacon)."""

from __future__ import annotations

import zlib

from fastapi import HTTPException, Request


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed when gzip-encoded; 413 past `limit` bytes either way."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").lower()
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
