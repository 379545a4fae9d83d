"""The answer cache against a real redis-server: bound and eviction, replicas in step, tiers, tags, negatives.

Two :class:`AnswerCache` objects over one Redis stand for two orchestrator replicas (each with its own index);
the clock is injected so tier promotion can be shown without waiting hours.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from redis.asyncio import Redis

from orchestrator.cache.answers import AnswerCache, CacheConfig
from orchestrator.cache.keys import KeyContext
from orchestrator.cache.semantic import Question, SemanticMatcher
from orchestrator.cache.store import CacheStore
from orchestrator.cache.tiers import TierPolicy, parse_intent_rules
from procs import Proc, start_redis

CONTEXT = KeyContext(model="m", prompt_version="p", policy_version="1", nlu_version="n")
DIM = 16


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_redis(Path(tmp_path_factory.mktemp("cache-store-logs")))
    yield proc
    proc.stop()


@pytest.fixture
async def redis(redis_proc: Proc) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_proc.url)
    await client.flushall()
    yield client
    await client.aclose()


def _cache(redis: Redis, clock: Clock, max_entries: int = 100) -> AnswerCache:
    config = CacheConfig(
        tiers=TierPolicy.from_hours([1, 2, 3, 5, 8, 13, 21, 34, 55, 89]),
        rules=parse_intent_rules("time.now", "weather.lookup=600"),
        max_entries=max_entries,
    )
    return AnswerCache(CacheStore(redis, max_entries), config, CONTEXT, SemanticMatcher(), clock)


def _vec(i: int, noise: float = 0.0) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i % DIM] = 1.0
    v[(i + 1) % DIM] = noise
    return v / np.linalg.norm(v)


def _q(text: str, i: int, intent: str = "info.query", noise: float = 0.0, entities: tuple = ()) -> Question:
    return Question(text, intent, entities, _vec(i, noise))


async def _put(cache: AnswerCache, tenant: str, q: Question, answer: str = "svar") -> str:
    entry_id = await cache.put(tenant, cache.key(tenant, q.text), q, {"response": answer, "route": "deep"})
    assert entry_id is not None
    return entry_id


async def test_memory_is_bounded_and_the_entries_nearest_expiry_go_first(redis: Redis) -> None:
    clock = Clock()
    cache = _cache(redis, clock, max_entries=3)
    first = _q("Vad är en fjord?", 0)
    await _put(cache, "t", first)
    clock.now += 0.5 * 3600
    assert await cache.exact("t", cache.key("t", first.text))  # a hit at 0.5 h climbs it to L2 (2 h from now)
    for i in range(1, 5):
        clock.now += 1
        await _put(cache, "t", _q(f"Fråga nummer {i}?", i))
    stats = await cache.stats()
    assert stats["entries"] == 3 and stats["counters"]["evicted"] == 2
    assert await cache.exact("t", cache.key("t", first.text)) is not None  # the promoted one stayed
    for gone in (1, 2):  # the oldest L1 entries went
        assert await cache.exact("t", cache.key("t", f"Fråga nummer {gone}?")) is None


async def test_a_climb_lengthens_the_redis_ttl(redis: Redis) -> None:
    clock = Clock()
    cache = _cache(redis, clock)
    entry_id = await _put(cache, "t", _q("Hur djup är Vättern?", 1))
    assert 3500 <= await redis.ttl(f"alice:cache:e:{entry_id}") <= 3600
    clock.now += 0.4 * 3600
    hit = await cache.exact("t", cache.key("t", "Hur djup är Vättern?"))
    assert hit is not None and hit.tier == 1  # served from L1, climbs for the next one
    assert 7100 <= await redis.ttl(f"alice:cache:e:{entry_id}") <= 7200
    again = await cache.exact("t", cache.key("t", "Hur djup är Vättern?"))
    assert again is not None and again.tier == 2


async def test_replicas_follow_each_others_writes_and_deletes(redis: Redis) -> None:
    clock = Clock()
    a, b = _cache(redis, clock), _cache(redis, clock)
    stored = _q("Vad kostar ett frimärke?", 3)
    asked = _q("Hur mycket kostar ett frimärke?", 3, noise=0.05)
    assert await b.semantic("t", asked, b.key("t", asked.text)) is None  # b builds its (empty) index
    entry_id = await _put(a, "t", stored)
    hit = await b.semantic("t", asked, b.key("t", asked.text))
    assert hit is not None and hit.entry_id == entry_id and hit.kind == "semantic" and hit.similarity > 0.99
    await a.link("req-1", entry_id, "fresh", "t")
    assert (await b.feedback("t", "req-1", "down")) == {
        "cache_entry": entry_id,
        "cache_kind": "fresh",
        "invalidated": True,
    }
    fresh_ask = _q("Vad kostar ett frimärke nu?", 3, noise=0.04)
    assert await a.semantic("t", fresh_ask, a.key("t", fresh_ask.text)) is None


async def test_scope_tenant_and_intent_rules(redis: Redis) -> None:
    cache = _cache(redis, Clock())
    sthlm = ({"type": "place", "value": "Stockholm"},)
    gbg = ({"type": "place", "value": "Göteborg"},)
    await _put(cache, "t", _q("Berätta om Stockholm", 4, entities=sthlm))
    assert await cache.semantic("t", _q("Berätta om Göteborg", 4, entities=gbg), "k1") is None
    assert await cache.semantic("other", _q("Berätta om Stockholm!", 4, entities=sthlm), "k2") is None
    assert await cache.semantic("t", _q("Berätta lite om Stockholm", 4, entities=sthlm), "k3") is not None
    assert await cache.put("t", "k4", _q("Vad är klockan?", 5, intent="time.now"), {"response": "x"}) is None
    weather = await cache.put("t", "k5", _q("Vädret i Lund?", 6, intent="weather.lookup"), {"response": "sol"})
    assert weather is not None and 590 <= await redis.ttl(f"alice:cache:e:{weather}") <= 600
    assert await cache.semantic("t", _q("Hur är vädret i Lund?", 6, intent="weather.lookup"), "k6") is None


async def test_a_question_about_a_day_lives_to_the_end_of_that_day(redis: Redis) -> None:
    clock = Clock()  # 2030-03-17 17:46 UTC = 18:46 in Stockholm
    cache = _cache(redis, clock)
    tomorrow = ({"type": "date", "value": "2030-03-18"},)
    entry_id = await _put(cache, "t", _q("Vad händer imorgon?", 7, entities=tomorrow))
    assert 0 < await redis.ttl(f"alice:cache:e:{entry_id}") <= 5 * 3600 + 14 * 60


async def test_invalidation_by_tag_and_flush(redis: Redis) -> None:
    cache = _cache(redis, Clock())
    for i, tenant in enumerate(("acme", "acme", "globex")):
        await _put(cache, tenant, _q(f"Fråga {i}?", 8 + i))
    assert await cache.invalidate({"tenant": "acme", "intent": "none"}) == 0
    assert await cache.invalidate({"tenant": "acme", "intent": "info.query"}) == 2
    assert (await cache.stats())["entries"] == 1
    assert await cache.flush() == 1
    assert (await cache.stats())["entries"] == 0


async def test_only_upstream_failures_are_remembered_and_only_for_their_tenant(redis: Redis) -> None:
    cache = _cache(redis, Clock())
    assert await cache.remember_failure("t", "key", 503, "dependency_down", "LLM nere")
    remembered = await cache.failure("t", "key")
    assert remembered is not None and remembered[0]["status"] == 503 and 1 <= remembered[1] <= 5
    assert await cache.failure("other", "key") is None
    for status in (401, 403, 429, 422):
        assert not await cache.remember_failure("t", f"k{status}", status, "x", "y")
        assert await cache.failure("t", f"k{status}") is None


async def test_a_dead_redis_is_bypassed_without_errors(redis_proc: Proc) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    clock = Clock()
    cache = _cache(dead, clock)
    q = _q("Vad är en fjord?", 0)
    assert await cache.put("t", cache.key("t", q.text), q, {"response": "x"}) is None
    assert await cache.exact("t", cache.key("t", q.text)) is None
    assert cache.available is False and (await cache.stats())["entries"] is None
    clock.now += 1.5  # after the first back-off (1 s) it tries Redis again, and fails again
    assert await cache.semantic("t", q, "k") is None and cache.bypassed >= 3
    await dead.aclose()


async def test_expired_entries_leave_the_expiry_and_tag_sets(redis: Redis) -> None:
    clock = Clock()
    cache = _cache(redis, clock)
    old = await _put(cache, "t", _q("Vad är en älv?", 1))
    await redis.delete(f"alice:cache:e:{old}")  # as Redis does when the TTL runs out
    clock.now += 2 * 3600  # past its 1 h expiry
    await _put(cache, "t", _q("Vad är en å?", 2))
    assert old.encode() not in await redis.zrange("alice:cache:z", 0, -1)
    assert old.encode() not in await redis.smembers("alice:cache:t:tenant:t")
    assert len(await redis.smembers("alice:cache:t:tenant:t")) == 1


async def test_concurrent_lookups_share_one_rebuild_and_the_resync_runs_beside_them(redis: Redis) -> None:
    clock = Clock()
    writer, reader = _cache(redis, clock), _cache(redis, clock)
    for i in range(40):
        await _put(writer, "t", _q(f"Fråga {i}?", i, noise=0.01 * i))
    asked = _q("Fråga 3, ungefär?", 3, noise=0.031)
    hits = await asyncio.gather(*(reader.semantic("t", asked, reader.key("t", asked.text)) for _ in range(20)))
    assert reader.rebuilds == 1  # twenty lookups with no index: one rebuild, shared
    assert all(h is not None and h.kind == "semantic" for h in hits)
    # the periodic resync: due, it starts in the background and this lookup answers from the current index
    clock.now += reader.config.resync_s + 1
    late = await _put(writer, "t", _q("En sen fråga?", 7, noise=0.5))
    hits = await asyncio.gather(*(reader.semantic("t", asked, reader.key("t", asked.text)) for _ in range(20)))
    assert all(h is not None for h in hits)
    task = reader._rebuilding
    assert task is not None
    await task
    assert reader.rebuilds == 2  # twenty lookups past the resync time: one rebuild
    assert late in reader._index.index  # type: ignore[operator]
    await reader.aclose()


async def test_a_flush_during_a_rebuild_leaves_the_index_stale(redis: Redis) -> None:
    clock = Clock()
    cache = _cache(redis, clock)
    await _put(cache, "t", _q("Vad heter Sveriges huvudstad?", 2))
    state = cache._index
    task = cache._start_rebuild(DIM)
    state.mark_stale()  # as a flush or a Redis failure would, while the rebuild is under way
    await task
    assert state.index is not None and state.stale  # the next lookup rebuilds again
    asked = _q("Vilken är Sveriges huvudstad?", 2, noise=0.03)
    assert await cache.semantic("t", asked, cache.key("t", asked.text)) is not None
    assert not state.stale and cache.rebuilds == 2


async def test_all_entries_reads_every_embedding_across_batches(redis: Redis) -> None:
    cache = _cache(redis, Clock(), max_entries=2000)
    store = cache.store
    ids = {await _put(cache, "t", _q(f"Fråga nummer {i}?", i)) for i in range(1203)}
    rows = [row async for row in store.all_entries()]
    assert {entry_id for entry_id, _scope, _emb in rows} == ids
    assert all(emb.shape == (DIM,) and scope for _id, scope, emb in rows)


async def test_request_links_last_the_window_and_stay_under_their_count(redis: Redis) -> None:
    clock = Clock()
    clock.now = time.time()  # the buckets expire by Redis's own clock (EXPIREAT)
    store = CacheStore(redis, 100, feedback_window_s=800, max_links=900, clock=clock)
    assert await store.link_request("early", "e1", "fresh", "t")
    clock.now += 799  # still inside the window
    assert await store.request_link("early") == {"id": "e1", "kind": "fresh", "tenant": "t"}
    ttl = await redis.ttl(f"alice:cache:rl:{int((clock.now - 799) // 100)}")
    # the hash expires by Redis (real time): its eighth ends within 100 s, then the 800-s window
    assert 800 <= ttl <= 900
    # a flood: at most a ninth of the bound per eighth of the window, the rest refused (and counted by the caller)
    results = [await store.link_request(f"flood-{i}", "e2", "exact", "t") for i in range(150)]
    assert sum(results) == 100 and results[:100] == [True] * 100
    assert await store.request_link("flood-99") is not None and await store.request_link("flood-120") is None
    buckets = [k async for k in redis.scan_iter(match="alice:cache:rl:*")]
    assert sum([await redis.hlen(k) for k in buckets]) <= 900
    assert await store.request_link("nobody") is None


async def test_a_dropped_link_is_counted(redis: Redis) -> None:
    clock = Clock()
    cache = _cache(redis, clock)
    cache.store = CacheStore(redis, 100, feedback_window_s=80, max_links=100, clock=clock)
    for i in range(13):
        await cache.link(f"req-{i}", "e1", "fresh", "t")
    assert (await cache.stats())["counters"]["links_dropped"] == 1  # a bucket holds 12 (100 / 9, rounded up)
