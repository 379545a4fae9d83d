"""Session memory and forgetting on a real redis-server: turns kept per session with a TTL and a cap, recalled per
user, and every trace of one user deleted while another user's data stays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from redis.asyncio import Redis

from orchestrator.conversation import ConversationStore, Turn, session_key, sessions_key
from orchestrator.forget import Forgetter
from orchestrator.idempotency import IdempotencyStore, StoredAnswer, fingerprint, owner
from orchestrator.recall import Recaller
from orchestrator.tools.drafts import RedisDraftStore
from orchestrator.tools.memory import Memory, MemoryBank, memory_id
from orchestrator.tools.timers import timer_key
from procs import Proc, start_redis

TENANT = "acme"


@pytest.fixture(scope="module")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_redis(tmp_path_factory.mktemp("conv-redis"))
    yield proc
    proc.stop()


@pytest.fixture
async def redis(redis_proc: Proc) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_proc.url)
    await client.flushdb()
    yield client
    await client.aclose()


def _turn(i: int, memories: tuple[str, ...] = ()) -> Turn:
    return Turn(f"fråga {i}", f"svar {i}", 1000.0 + i, "deep", f"r{i}", memories)


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=16).astype(np.float32)
    return v / np.linalg.norm(v)


async def test_turns_are_kept_per_session_capped_and_expire(redis: Redis) -> None:
    store = ConversationStore(redis, ttl_s=3600, max_turns=3)
    for i in range(5):
        await store.append(TENANT, "anna", "s1", _turn(i))
    await store.append(TENANT, "anna", "s2", _turn(9))
    assert [t.user for t in await store.recent(TENANT, "anna", "s1", 2)] == ["fråga 3", "fråga 4"]
    assert [t.user for t in await store.recent(TENANT, "anna", "s1", 10)] == ["fråga 2", "fråga 3", "fråga 4"]
    assert await store.recent(TENANT, "bo", "s1", 5) == []  # another user's session of the same id
    assert 3500 < await redis.ttl(session_key(TENANT, "anna", "s1")) <= 3600
    assert 3500 < await redis.ttl(sessions_key(TENANT, "anna")) <= 3600
    assert [(s, n) for s, n, _ in await store.sessions(TENANT, "anna")] == [("s2", 1), ("s1", 3)]
    assert (await store.pop_last(TENANT, "anna", "s1")) == _turn(4)
    assert await store.delete_session(TENANT, "anna", "s1") == 2
    assert [s for s, _, _ in await store.sessions(TENANT, "anna")] == ["s2"]


async def test_recall_finds_the_users_own_facts_across_sessions_only(redis: Redis) -> None:
    bank = MemoryBank(redis)
    conversations = ConversationStore(redis)
    fact = Memory(memory_id("min dotter heter Elsa", None), "min dotter heter Elsa", 1.0)
    await bank.add(TENANT, "anna", fact, _unit(1))
    await bank.add(TENANT, "anna", Memory(memory_id("cykeln", None), "cykeln", 2.0), _unit(2))
    await conversations.append(TENANT, "anna", "s1", _turn(1))
    recaller = Recaller(conversations, bank, window=5)
    near = _unit(1) + 0.05 * _unit(3)
    mine = await recaller.recall(TENANT, "anna", "s2", near)
    assert [m.text for m, _ in mine.facts] == ["min dotter heter Elsa"] and mine.turns == ()
    assert len((await recaller.recall(TENANT, "anna", "s1", near)).turns) == 1
    assert (await recaller.recall(TENANT, "bo", "s1", near)).empty
    assert (await recaller.recall(TENANT, "anna", None, _unit(7))).empty  # nothing close enough, no session


async def test_forget_last_takes_back_the_turn_and_what_it_stored(redis: Redis) -> None:
    bank, conversations = MemoryBank(redis), ConversationStore(redis)
    fact = Memory("m1", "portkoden är 4512", 1.0)
    await bank.add(TENANT, "anna", fact, _unit(1))
    await conversations.append(TENANT, "anna", "s1", _turn(1))
    await conversations.append(TENANT, "anna", "s1", _turn(2, ("m1",)))
    forgetter = Forgetter(redis, conversations, bank)
    assert await forgetter.forget_last(TENANT, "anna", "s1") == {"turns": 1, "memories": 1}
    assert await bank.all(TENANT, "anna") == [] and len(await conversations.recent(TENANT, "anna", "s1", 5)) == 1
    about = await forgetter.forget_about(TENANT, "anna", "portkoden")
    assert about == {"memories": 0, "texts": []}


async def test_forget_user_deletes_every_trace_of_that_user_only(redis: Redis) -> None:
    bank, conversations = MemoryBank(redis), ConversationStore(redis)
    drafts, idempotency = RedisDraftStore(redis), IdempotencyStore(redis)
    answer = StoredAnswer(200, "application/json", b"{}", {})
    for user in ("anna", "bo"):
        await bank.add(TENANT, user, Memory("m1", "en sak", 1.0), _unit(1))
        await conversations.append(TENANT, user, "s1", _turn(1))
        await conversations.append(TENANT, user, "s2", _turn(2))
        await redis.hset(timer_key(TENANT, user), "t1", "{}")
        await drafts.put(TENANT, user, "m.ics", "text/calendar", b"BEGIN:VCALENDAR")
        await idempotency.begin(owner(TENANT, user), "k1", fingerprint(b"{}"))
        await idempotency.finish(owner(TENANT, user), "k1", fingerprint(b"{}"), answer)
    before = {k async for k in redis.scan_iter()}

    async def telemetry(tenant: str, user: str) -> int:
        return 7 if (tenant, user) == (TENANT, "anna") else 0

    removed = await Forgetter(redis, conversations, bank, extra=[("telemetry", telemetry)]).forget_user(TENANT, "anna")
    assert removed == {"sessions": 2, "memories": 1, "timers": 1, "drafts": 1, "idempotent_answers": 1, "telemetry": 7}
    after = {k async for k in redis.scan_iter()}
    assert not any(b"anna" in k for k in after)
    gone = before - after
    assert all(b"anna" in k or k.startswith(b"alice:draft:") for k in gone)
    assert len(await bank.all(TENANT, "bo")) == 1 and len(await conversations.sessions(TENANT, "bo")) == 2
    assert await redis.hlen(timer_key(TENANT, "bo")) == 1
    assert len([k async for k in redis.scan_iter(match="alice:draft:*")]) == 1
