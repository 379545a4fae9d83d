"""Reading a request body without ever holding more than the limit in memory.

The declared ``Content-Length`` is checked first (a 413 before a single byte is read); the stream is then
counted as it arrives, which also covers chunked bodies and clients that lie about the length.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from alice.errors import BadRequestError, PayloadTooLargeError


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"The request body is larger than {limit} bytes.", extra={"limit": limit})


def check_declared_length(content_length: str | None, limit: int) -> None:
    """Refuse a declared ``Content-Length`` over ``limit`` (or one that is not a number)."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        raise BadRequestError("Content-Length is not a number.") from None
    if declared < 0:
        raise BadRequestError("Content-Length is negative.")
    if declared > limit:
        raise _too_large(limit)


async def read_limited(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """Collect ``chunks`` into one body, raising 413 as soon as it grows past ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


async def read_body(chunks: AsyncIterable[bytes], content_length: str | None, limit: int) -> bytes:
    """Both checks in order: the declared length, then the bytes actually received."""
    check_declared_length(content_length, limit)
    return await read_limited(chunks, limit)
