"""The Idempotency-Key store on a real redis-server: run once, replay, refuse a different body or a second
runner, free the key after a failure, and run unguarded (no error) when Redis is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from alice.errors import IdempotencyInProgressError, IdempotencyKeyReusedError, ValidationFailedError
from alice.idempotency import checked_key
from orchestrator.idempotency import IdempotencyStore, StoredAnswer, fingerprint
from procs import Proc, free_port, start_redis

BODY = fingerprint(b'{"message":"hej"}')
ANSWER = StoredAnswer(200, "application/json", b'{"response":"Hej!"}', {"X-Route": "micro"})


@pytest.fixture(scope="module")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_redis(tmp_path_factory.mktemp("idem-redis"))
    yield proc
    proc.stop()


@pytest.fixture
async def store(redis_proc: Proc) -> AsyncIterator[IdempotencyStore]:
    redis = Redis.from_url(redis_proc.url)
    yield IdempotencyStore(redis, ttl_s=60, pending_ttl_s=30)
    await redis.aclose()


async def test_the_first_runs_a_second_waits_a_retry_replays(store: IdempotencyStore) -> None:
    assert await store.begin("acme", "k1", BODY) is None  # runs
    with pytest.raises(IdempotencyInProgressError) as busy:
        await store.begin("acme", "k1", BODY)
    assert busy.value.status == 409 and busy.value.retry_after == 1
    await store.finish("acme", "k1", BODY, ANSWER)
    assert await store.begin("acme", "k1", BODY) == ANSWER
    with pytest.raises(IdempotencyKeyReusedError) as reused:
        await store.begin("acme", "k1", fingerprint(b'{"message":"hej igen"}'))
    assert reused.value.status == 422
    assert await store.begin("globex", "k1", BODY) is None  # keys are per tenant


async def test_a_failed_answer_frees_the_key(store: IdempotencyStore) -> None:
    assert await store.begin("acme", "k2", BODY) is None
    await store.release("acme", "k2")
    assert await store.begin("acme", "k2", BODY) is None


async def test_without_redis_requests_run_unguarded(tmp_path: Path) -> None:
    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    store = IdempotencyStore(gone)
    assert await store.begin("acme", "k3", BODY) is None
    await store.finish("acme", "k3", BODY, ANSWER)  # logged, not raised
    await store.release("acme", "k3")
    await gone.aclose()
    assert await IdempotencyStore(None).begin("acme", "k3", BODY) is None


@pytest.mark.parametrize("raw", ["", "has space", "x" * 256, "tab\there", "åäö"])
def test_malformed_keys_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailedError):
        checked_key(raw)
    assert checked_key("order-2026-11-22_#1") == "order-2026-11-22_#1"
