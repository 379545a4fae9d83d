"""Breaker openings shared between replicas through a real redis-server: one replica's opening is adopted by
another that saw no failure, and expires with the open time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from alice.breaker import BreakerState, CircuitBreaker, SharedState
from alice.errors import CircuitOpenError
from procs import Proc, start_redis


@pytest.fixture(scope="module")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_redis(tmp_path_factory.mktemp("breaker-redis"))
    yield proc
    proc.stop()


@pytest.fixture
async def redis(redis_proc: Proc) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_proc.url)
    yield client
    await client.aclose()


async def test_another_replica_adopts_an_opening_until_it_expires(redis: Redis) -> None:
    first = CircuitBreaker("llm", open_time=lambda _trips: 1.5)
    second = CircuitBreaker("llm", open_time=lambda _trips: 1.5)
    share_first, share_second = SharedState(redis, first), SharedState(redis, second)
    for _ in range(5):
        first.admit()
        first.failed()
    assert first.state is BreakerState.OPEN and second.state is BreakerState.CLOSED
    await share_first.sync()  # published
    await share_second.sync()  # adopted
    assert second.state is BreakerState.OPEN and 0 < second.retry_after() <= 1.5
    with pytest.raises(CircuitOpenError):
        second.admit()  # refused without a failure of its own
    assert await redis.exists("alice:breaker:llm")
    await asyncio.sleep(1.6)
    assert not await redis.exists("alice:breaker:llm")  # the shared opening expired with its open time
    assert second.state is BreakerState.HALF_OPEN  # closing is each replica's own (trials, health checks)
    await share_second.sync()
    assert second.state is BreakerState.HALF_OPEN
