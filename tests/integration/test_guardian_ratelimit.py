"""Rate limits on a real redis-server: the Lua script alone, and the real guardian process in front of a closed
port (an admitted chat request then gets 503 from the missing orchestrator, a limited one 429 before that)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from guardian.keys import KeyStore
from guardian.ratelimit import Limit, RedisLimiter
from procs import Proc, free_port, start_redis, start_service


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ratelimit-logs")


@pytest.fixture(scope="module")
def redis_proc(log_dir: Path) -> Iterator[Proc]:
    proc = start_redis(log_dir)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def redis(redis_proc: Proc) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_proc.url)
    try:
        yield client
    finally:
        await client.aclose()


async def test_exactly_the_limit_passes_under_concurrency(redis: Redis) -> None:
    limiter = RedisLimiter(redis, prefix="it:exact")
    scopes = [("key:k1", Limit(7, 60))]
    decisions = await asyncio.gather(*(limiter.hit(scopes) for _ in range(40)))
    assert sum(d.admitted for d in decisions) == 7
    assert sorted(d.remaining for d in decisions if d.admitted) == [0, 1, 2, 3, 4, 5, 6]
    refused = [d for d in decisions if not d.admitted]
    assert all(d.limit == 7 and d.remaining == 0 and 0 < d.reset_s <= 60 for d in refused)


async def test_a_refusal_counts_in_no_scope_and_the_tenant_limit_spans_its_keys(redis: Redis) -> None:
    limiter = RedisLimiter(redis, prefix="it:scopes")
    tenant = ("tenant:acme", Limit(5, 60))
    first = [("key:a", Limit(3, 60)), tenant]
    second = [("key:b", Limit(3, 60)), tenant]
    a = [await limiter.hit(first) for _ in range(4)]
    assert [d.admitted for d in a] == [True, True, True, False]  # key a's own limit
    b = [await limiter.hit(second) for _ in range(3)]
    # the tenant had 3 from key a (the refused 4th was not counted), so key b gets the tenant's last 2
    assert [d.admitted for d in b] == [True, True, False]
    assert b[1].remaining == 0 and b[0].limit == 5  # the tightest scope's numbers


async def test_the_window_ends(redis: Redis) -> None:
    limiter = RedisLimiter(redis, prefix="it:window")
    scopes = [("key:w", Limit(1, 1))]
    first = await limiter.hit(scopes)
    assert first.admitted
    if not (await limiter.hit(scopes)).admitted:  # same one-second window (unless it just turned)
        time.sleep(first.reset_s + 0.05)
    assert (await limiter.hit(scopes)).admitted


@pytest.fixture(scope="module")
def guardian(log_dir: Path, redis_proc: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, str]]:
    store = KeyStore(tmp_path_factory.mktemp("ratelimit-keys") / "keys.json")
    key, _ = store.create("acme", "user")
    env = {
        "ALICE_INTERNAL_SECRET": "ratelimit-it-secret-0123456789",
        "ALICE_LOG_FORMAT": "json",
        "GUARDIAN_KEYS_FILE": str(store.path),
        "GUARDIAN_UPSTREAM_URL": f"http://127.0.0.1:{free_port()}",
        "GUARDIAN_API_KEYS": "",
        "GUARDIAN_RATE_LIMITS": "user=5/min",
        "REDIS_URL": redis_proc.url,
    }
    proc = start_service("guardian-ratelimit", "guardian.app:create_app", log_dir, env)
    try:
        yield proc, key
    finally:
        proc.stop()


def test_parallel_requests_through_the_guardian_get_exactly_the_limit(guardian: tuple[Proc, str]) -> None:
    proc, key = guardian

    def send(_: int) -> httpx.Response:
        return httpx.post(
            proc.url + "/api/chat", json={"message": "hej"}, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(send, range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(429) == 7 and statuses.count(503) == 5, statuses  # 503: admitted, orchestrator down
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-limit"] == "5" and limited.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(limited.headers["ratelimit-reset"]) <= 60
    metrics = httpx.get(proc.url + "/metrics", timeout=10).text
    assert 'alice_guardian_ratelimit_total{outcome="limited"} 7.0' in metrics
