"""The warming's Redis parts on a real redis-server: the telemetry recorder's script (sessions, history, gaps, what
text is kept, caps), its behaviour with Redis down, and the warmer's ledger (used, unused, own hits, the lock)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from orchestrator.cache.store import CacheStore, Entry, new_entry_id
from orchestrator.warming.ledger import WarmLedger
from orchestrator.warming.telemetry import PREFIX, TelemetryRecorder, session_hash
from procs import Proc, free_port, start_redis

T0 = 1_780_000_000.0


@pytest.fixture(scope="module")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_redis(tmp_path_factory.mktemp("warming-redis"))
    yield proc
    proc.stop()


@pytest.fixture
async def client(redis_proc: Proc) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_proc.url)
    await redis.flushdb()
    yield redis
    await redis.aclose()


def _recorder(redis: Redis, **kwargs: Any) -> TelemetryRecorder:
    return TelemetryRecorder(redis, keep_text=lambda intent: intent in ("info.query", "smalltalk"), **kwargs)


async def test_sessions_keep_their_last_three_intents_and_restart_after_a_gap(client: Redis) -> None:
    recorder = _recorder(client)
    for i, intent in enumerate(["greeting.hello", "info.query", "smalltalk", "timer.set"]):
        assert await recorder.record("acme", "s1", intent, "micro", False, f"fråga {i}", ts=T0 + 30 * i)
    [moment] = await recorder.active(since=T0, limit=10)
    assert moment.history == ("timer.set", "smalltalk", "info.query")
    assert (moment.tenant, moment.turn, moment.pace_s, moment.ts) == ("acme", 4, 30.0, T0 + 90)
    await recorder.record("acme", "s1", "info.query", "deep", True, "fråga", ts=T0 + 90 + 1801)
    [later] = await recorder.active(since=T0 + 1000, limit=10)
    assert later.history == ("info.query",) and later.turn == 1 and later.pace_s == 0.0


async def test_events_keep_text_only_for_cacheable_intents_and_hash_the_session(client: Redis) -> None:
    recorder = _recorder(client)
    await recorder.record("acme", "client-session-id", "info.query", "deep", True, "vad är en fjord", ts=T0)
    await recorder.record("acme", "client-session-id", "memory.store", "tool", False, "kom ihåg min kod", ts=T0 + 5)
    await recorder.record("globex", "x", None, "deep", False, "hej", ts=T0 + 6)
    events = await recorder.events("acme")
    assert [(e.intent, e.question, e.hit) for e in events] == [
        ("info.query", "vad är en fjord", True),
        ("memory.store", None, False),
    ]
    assert {e.session for e in events} == {session_hash("acme", "client-session-id")}
    stored = b"".join(k for k in await client.keys(f"{PREFIX}*"))
    assert b"client-session-id" not in stored and b"kom ih" not in stored
    assert await recorder.tenants() == ["globex", "acme"]
    assert [e.intent for e in await recorder.events("globex")] == ["none"]
    assert [e.question for e in await recorder.recent("acme", 1)] == [None]  # newest first


async def test_active_sessions_are_those_with_a_recent_request(client: Redis) -> None:
    recorder = _recorder(client)
    await recorder.record("acme", "old", "info.query", "deep", False, "a", ts=T0)
    await recorder.record("acme", "new", "smalltalk", "micro", False, "b", ts=T0 + 400)
    active = await recorder.active(since=T0 + 400 - 300, limit=10)
    assert [m.history for m in active] == [("smalltalk",)]


async def test_the_stream_is_capped_and_expires(client: Redis) -> None:
    recorder = _recorder(client, max_events=100, ttl_s=3600)
    for i in range(600):
        await recorder.record("acme", f"s{i % 7}", "smalltalk", "micro", False, "hej", ts=T0 + i)
    length = await client.xlen(f"{PREFIX}ev:acme")
    assert 100 <= length < 300  # MAXLEN ~ trims whole stream nodes
    assert 0 < await client.ttl(f"{PREFIX}ev:acme") <= 3600


async def test_recording_with_redis_down_returns_false_at_once(tmp_path: Path) -> None:
    down = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    recorder = _recorder(down)
    started = time.perf_counter()
    assert not await recorder.record("acme", "s", "info.query", "deep", False, "q", ts=T0)
    assert not await recorder.record("acme", "s", "info.query", "deep", False, "q", ts=T0)  # breaker open: no wait
    assert await recorder.active(since=0, limit=5) == []
    assert time.perf_counter() - started < 2
    await down.aclose()


def _entry(tenant: str = "acme") -> Entry:
    return Entry(
        id=new_entry_id(),
        tenant=tenant,
        text="vad är en fjord",
        intent="info.query",
        entities=(),
        scope="s",
        embedding=None,
        answer={"response": "En fjord är …"},
        exact_key=new_entry_id(),
        tier=1,
        hits=0,
        hits_in_tier=0,
        tier_since=T0,
        created=T0,
        fixed_ttl_s=None,
    )


async def test_ledger_settles_used_unused_and_the_warmers_own_hits(client: Redis) -> None:
    store = CacheStore(client, 100)
    ledger = WarmLedger(client)
    used, gone, own, idle = _entry(), _entry(), _entry(), _entry()
    for entry in (used, gone, own, idle):
        await store.put(entry, 3600, T0)
        await ledger.warmed(entry.id, entry.tenant, "info.query", T0)
    await store.touch(used, 3600, T0 + 5, {}, {})  # a user's hit
    await store.touch(own, 3600, T0 + 5, {}, {})  # the warmer's own (a paraphrase it warmed)
    assert await ledger.own_hit(own.id) and not await ledger.own_hit("not-warmed")
    await store.delete([gone.id])
    first = await ledger.settle(store)
    assert (first.used, first.unused) == (1, 1)
    assert await ledger.settle(store) == type(first)(0, 0)  # settled once only
    last = await ledger.settle(store, final=True)
    assert (last.used, last.unused) == (0, 2)
    stats = await ledger.stats()
    assert stats == {"warmed": 4, "used": 1, "unused": 3, "own_hits": 1, "pending": 0}


async def test_one_warming_run_at_a_time(client: Redis) -> None:
    ledger = WarmLedger(client)
    token = await ledger.acquire(30)
    assert token is not None and await ledger.acquire(30) is None
    await ledger.release("someone-else")
    assert await ledger.acquire(30) is None
    await ledger.release(token)
    assert await ledger.acquire(30) is not None
