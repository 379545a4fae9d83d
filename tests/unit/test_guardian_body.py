"""Body limits: the declared Content-Length and the bytes actually streamed (guardian.body)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from alice.errors import BadRequestError, PayloadTooLargeError
from guardian.body import check_declared_length, read_body, read_limited


class Chunks:
    """An async byte stream that records how much of it was consumed."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.consumed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.consumed += 1
            yield chunk


@pytest.mark.parametrize("declared", [None, "0", "10", "100"])
def test_declared_length_within_the_limit(declared: str | None) -> None:
    check_declared_length(declared, 100)


def test_declared_length_over_the_limit_is_413() -> None:
    with pytest.raises(PayloadTooLargeError) as caught:
        check_declared_length("101", 100)
    assert caught.value.status == 413 and "100 bytes" in caught.value.detail


@pytest.mark.parametrize("declared", ["abc", "-1", "1e3"])
def test_nonsense_declared_length_is_400(declared: str) -> None:
    with pytest.raises(BadRequestError):
        check_declared_length(declared, 100)


async def test_read_limited_joins_chunks() -> None:
    assert await read_limited(Chunks(b"ab", b"", b"cd"), 4) == b"abcd"


async def test_read_limited_stops_at_the_first_chunk_past_the_limit() -> None:
    stream = Chunks(b"a" * 60, b"b" * 60, b"c" * 60, b"d" * 60)
    with pytest.raises(PayloadTooLargeError):
        await read_limited(stream, 100)
    assert stream.consumed == 2  # nothing after the chunk that crossed the limit was read


async def test_a_lying_content_length_is_caught_while_reading() -> None:
    with pytest.raises(PayloadTooLargeError):
        await read_body(Chunks(b"x" * 200), "10", 100)


async def test_read_body_checks_the_declared_length_before_reading() -> None:
    stream = Chunks(b"x")
    with pytest.raises(PayloadTooLargeError):
        await read_body(stream, "1000", 100)
    assert stream.consumed == 0
