"""The timer and memory tools against a real redis-server.

Two tool objects over two Redis connections stand for two orchestrator replicas; a tool object built afresh
stands for a restarted orchestrator. Time is the request's ``ctx.now``, so expiry is shown without waiting.
Memory embeddings are synthetic unit vectors with chosen cosines to the stored ones.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel
from redis.asyncio import Redis

from orchestrator.tools.base import STOCKHOLM, Tool, ToolArgumentsError, ToolContext, ToolResult, json_schema
from orchestrator.tools.memory import MemoryBank, MemoryQuery, MemoryStore, MemoryStoreArgs, memory_keys, memory_tools
from orchestrator.tools.timers import (
    TimerCancel,
    TimerCancelArgs,
    TimerSet,
    TimerSetArgs,
    TimerStatus,
    TimerStatusArgs,
    timer_key,
    timer_tools,
)
from procs import Proc, start_redis

NOW = datetime(2025, 3, 14, 14, 0, tzinfo=STOCKHOLM)
DIM = 16


@pytest.fixture(scope="module")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_redis(Path(tmp_path_factory.mktemp("tools-redis-logs")))
    yield proc
    proc.stop()


@pytest.fixture
async def redis(redis_proc: Proc) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_proc.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def redis2(redis_proc: Proc) -> AsyncIterator[Redis]:
    """A second connection: another replica."""
    client = Redis.from_url(redis_proc.url)
    yield client
    await client.aclose()


def _ctx(text: str, seconds: float = 0, user: str = "anna", tenant: str = "acme", **kw: Any) -> ToolContext:
    return ToolContext(tenant=tenant, user=user, text=text, now=NOW + timedelta(seconds=seconds), **kw)


def _dur(text: str, phrase: str, seconds: float) -> dict[str, Any]:
    start = text.index(phrase)
    return {"type": "duration", "value": seconds, "text": phrase, "start": start, "end": start + len(phrase)}


Tools = tuple[TimerSet, TimerCancel, TimerStatus]


async def _say(
    tool: TimerSet | TimerCancel | TimerStatus, text: str, t: float = 0, *ents: dict[str, Any]
) -> ToolResult:
    """Run ``tool`` on ``text`` the way the router does: arguments from the entities, then run."""
    ctx = _ctx(text, t, entities=ents)
    args = tool.args_from_context(ctx)
    assert args is not None, text
    return await tool.run(args, ctx)


async def _start(tools: Tools, text: str, phrase: str, seconds: float, t: float = 0) -> ToolResult:
    return await _say(tools[0], text, t, _dur(text, phrase, seconds))


# -- timers -------------------------------------------------------------------------------------------------
async def test_set_status_cancel(redis: Redis) -> None:
    tools = timer_tools(redis)
    started = await _start(tools, "ställ en timer på fem minuter", "fem minuter", 300)
    assert started.ok, started.answer
    assert started.answer == "Okej, en timer är satt på 5 minuter. Den ringer 14:05."
    status = await _say(tools[2], "hur lång tid är kvar på timern", 48)
    assert status.answer == "Timern på 5 minuter har 4 minuter och 12 sekunder kvar (ringer 14:05)."
    assert status.data["timers"][0]["remaining_s"] == 252
    cancelled = await _say(tools[1], "avbryt timern", 60)
    assert (cancelled.ok, cancelled.answer) == (True, "Timern på 5 minuter är avbruten.")
    assert (await _say(tools[2], "har jag någon timer igång", 61)).answer == "Du har ingen timer igång."
    assert await redis.exists(timer_key("acme", "anna")) == 0
    again = await _say(tools[1], "avbryt timern", 62)
    assert (again.ok, again.error, again.answer) == (False, "no_timer", "Du har ingen timer igång.")


async def test_a_timer_outlives_the_tool_objects(redis: Redis, redis2: Redis) -> None:
    first = timer_tools(redis)
    await _start(first, "timer 10 min för pastan", "10 min", 600)
    assert set(vars(first[0].store)) == {"redis", "max_timers"}  # no timers in the Python object
    del first
    stored = await redis.hgetall(timer_key("acme", "anna"))
    (value,) = stored.values()
    assert json.loads(value)["ends_at"] == NOW.timestamp() + 600 and json.loads(value)["label"] == "pastan"
    restarted = timer_tools(redis2)  # a new process: new connection, new objects, same Redis
    status = await _say(restarted[2], "hur länge kvar på pastatimern", 348)
    assert status.answer == "Timern för pastan har 4 minuter och 12 sekunder kvar (ringer 14:10)."


async def test_replicas_share_timers(redis: Redis, redis2: Redis) -> None:
    a, b = timer_tools(redis), timer_tools(redis2)
    await _start(a, "sätt en timer på 10 minuter", "10 minuter", 600)
    paused = await _say(b[0], "pausa timern", 60)
    assert paused.answer == "Timern på 10 minuter är pausad med 9 minuter kvar."
    held = await _say(a[2], "status för timern", 400)
    assert held.answer == "Timern på 10 minuter är pausad med 9 minuter kvar."
    text = "lägg till 2 minuter på timern"
    added = await _say(a[0], text, 500, _dur(text, "2 minuter", 120))
    assert added.answer == "Jag har lagt till 2 minuter på timern på 10 minuter. Den har nu 11 minuter kvar."
    resumed = await _say(b[0], "fortsätt timern", 600)
    assert resumed.answer == "Timern på 10 minuter är igång igen och ringer 14:21 (11 minuter kvar)."
    assert (await _say(a[2], "hur mycket tid är kvar", 630)).answer == (
        "Timern på 10 minuter har 10 minuter och 30 sekunder kvar (ringer 14:21)."
    )


async def test_replicas_cannot_exceed_the_limit_together(redis: Redis, redis2: Redis) -> None:
    a, b = timer_tools(redis, max_timers=5), timer_tools(redis2, max_timers=5)
    text = "timer 5 minuter"
    results = await asyncio.gather(*(_start(tools, text, "5 minuter", 300) for tools in [a, b] * 6))
    assert sum(r.ok for r in results) == 5
    assert {r.error for r in results if not r.ok} == {"too_many_timers"}
    assert await redis.hlen(timer_key("acme", "anna")) == 5


async def test_a_rung_timer_is_reported_once_then_gone(redis: Redis) -> None:
    tools = timer_tools(redis)
    await _start(tools, "timer 1 minut", "1 minut", 60)
    await _start(tools, "timer 10 minuter för brödet", "10 minuter", 600)
    status = await _say(tools[2], "vilka timers har jag", 120)
    assert status.answer == (
        "Du har 2 timrar. Timern på 1 minut ringde 14:01. Timern för brödet har 8 minuter kvar (ringer 14:10)."
    )
    assert [t["state"] for t in status.data["timers"]] == ["rung", "running"]
    after = await _say(tools[2], "vilka timers har jag", 121)
    assert after.answer == "Timern för brödet har 7 minuter och 59 sekunder kvar (ringer 14:10)."
    assert await redis.hlen(timer_key("acme", "anna")) == 1
    # the rung one cannot be cancelled: "the timer" is now the bread timer
    assert (await _say(tools[1], "avbryt timern", 130)).answer == "Timern för brödet är avbruten."


async def test_rung_timers_leave_by_themselves(redis: Redis) -> None:
    tools = timer_tools(redis, max_timers=2)
    await _start(tools, "timer 1 minut", "1 minut", 60)
    await _start(tools, "timer 2 minuter", "2 minuter", 120)
    full = await _start(tools, "timer 3 minuter", "3 minuter", 180, 30)
    assert (full.ok, full.error) == (False, "too_many_timers")
    assert full.answer == "Du har redan 2 timrar igång, och fler än 2 går inte. Avbryt någon först."
    assert (await _start(tools, "timer 3 minuter", "3 minuter", 180, 90)).ok  # the 1-minute one has rung
    ttl = await redis.ttl(timer_key("acme", "anna"))
    assert 3600 < ttl <= 90 + 180 + 3600  # the hash outlives its last timer by an hour, no more
    later = await _start(tools, "timer 3 minuter", "3 minuter", 180, 2 * 3600)
    assert later.ok
    assert await redis.hlen(timer_key("acme", "anna")) == 1  # rung over an hour ago: dropped on the way


async def test_limits_on_length(redis: Redis) -> None:
    tools = timer_tools(redis)
    too_long = await _start(tools, "sätt en timer på två dygn", "två dygn", 172800)
    assert (too_long.ok, too_long.error, too_long.answer) == (
        False,
        "duration_too_long",
        "En timer kan vara högst 24 timmar.",
    )
    too_short = await tools[0].run(TimerSetArgs(duration_s=0.5), _ctx("timer"))
    assert (too_short.ok, too_short.error) == (False, "duration_too_short")
    longest = await tools[0].run(TimerSetArgs(duration_s=86400), _ctx("timer"))
    assert longest.answer == "Okej, en timer är satt på 24 timmar. Den ringer i morgon 14:00."
    text = "lägg till 1 minut på timern"
    over = await _say(tools[0], text, 0, _dur(text, "1 minut", 60))
    assert (over.ok, over.error) == (False, "duration_too_long")
    assert await redis.hlen(timer_key("acme", "anna")) == 1


async def test_labels_choose_the_timer(redis: Redis) -> None:
    tools = timer_tools(redis)
    await _start(tools, "sätt en timer på 10 minuter för pastan", "10 minuter", 600)
    await _start(tools, "sätt en timer på 5 minuter", "5 minuter", 300)
    dup = await _start(tools, "timer 3 minuter för pastan", "3 minuter", 180)
    assert (dup.ok, dup.error) == (False, "duplicate_label")
    which = await _say(tools[1], "avbryt timern", 60)
    assert (which.ok, which.error) == (False, "ambiguous_timer")
    assert which.answer == (
        "Du har 2 timrar: timern på 5 minuter (4 minuter kvar) och timern för pastan (9 minuter kvar). Vilken menar du?"
    )
    missing = await _say(tools[1], "avbryt pizzatimern", 60)
    assert (missing.ok, missing.error) == (False, "timer_not_found")
    text = "avbryt 5 minuters timer"
    by_length = await _say(tools[1], text, 60, _dur(text, "5 minuters", 300))
    assert by_length.answer == "Timern på 5 minuter är avbruten."
    text = "dra av 10 minuter från pastatimern"
    refused = await _say(tools[0], text, 60, _dur(text, "10 minuter", 600))
    assert refused.answer == "Timern för pastan har bara 9 minuter kvar, så jag kan inte dra av 10 minuter."
    assert (await _say(tools[1], "avbryt timern för pastan", 61)).answer == "Timern för pastan är avbruten."


async def test_cancel_all(redis: Redis) -> None:
    tools = timer_tools(redis)
    for minutes in (1, 2, 3):
        await _start(tools, f"timer {minutes} minuter", f"{minutes} minuter", minutes * 60)
    gone = await _say(tools[1], "stoppa alla timers", 10)
    assert gone.answer == ("Jag har avbrutit 3 timrar: timern på 1 minut, timern på 2 minuter och timern på 3 minuter.")
    assert await redis.exists(timer_key("acme", "anna")) == 0


async def test_timers_are_per_tenant_and_user(redis: Redis) -> None:
    tools = timer_tools(redis)
    await _start(tools, "timer 5 minuter", "5 minuter", 300)
    assert (await tools[2].run(TimerStatusArgs(), _ctx("status", user="bo"))).answer == "Du har ingen timer igång."
    other_tenant = await tools[1].run(TimerCancelArgs(all=True), _ctx("avbryt alla", tenant="other"))
    assert other_tenant.error == "no_timer"
    assert await redis.hlen(timer_key("acme", "anna")) == 1


async def test_invalid_timer_arguments_raise(redis: Redis) -> None:
    tools = timer_tools(redis)
    with pytest.raises(ToolArgumentsError):
        await tools[0].run(TimerSetArgs(action="add"), _ctx("lägg till tid"))

    class Wrong(BaseModel):
        duration_s: float = -5

    with pytest.raises(ToolArgumentsError):
        await tools[0].run(Wrong(), _ctx("timer"))


# -- memory -------------------------------------------------------------------------------------------------
def _vec(cosines: dict[int, float]) -> list[float]:
    """A unit vector with the given cosine to each basis vector ``e_i`` (the rest in the last dimension)."""
    v = np.zeros(DIM)
    for i, c in cosines.items():
        v[i] = c
    rest = 1.0 - float(np.sum(v**2))
    assert rest >= 0, "cosines to orthogonal vectors: their squares sum to at most 1"
    v[DIM - 1] = math.sqrt(rest)
    return [float(x) for x in v]


def _e(i: int) -> list[float]:
    return _vec({i: 1.0})


async def _remember(tool: MemoryStore, text: str, emb: list[float], t: float = 0, **kw: Any) -> ToolResult:
    ctx = _ctx(text, t, embedding=emb, **kw)
    args = tool.args_from_context(ctx)
    assert args is not None, text
    return await tool.run(args, ctx)


async def _ask(tool: MemoryQuery, text: str, emb: list[float] | None, **kw: Any) -> ToolResult:
    ctx = _ctx(text, 1000, embedding=emb, **kw)
    return await tool.run(tool.args_from_context(ctx), ctx)


FACTS = [
    "kom ihåg att min portkod är 4512",
    "spara att Anna fyller år den 12 mars",
    "notera att bilen ska på service i april",
    "kom ihåg att jag parkerade på plan 3",
    "skriv upp att jag lånat ut boken till Per",
    "kom ihåg att jag gillar te utan socker",
]


def _query(bank: MemoryBank) -> MemoryQuery:
    return MemoryQuery(bank, steps=[1, 2, 3, 5], floor=0.3, confident=0.6, margin=0.05)


async def _bank_with_facts(redis: Redis) -> tuple[MemoryStore, MemoryQuery]:
    bank = MemoryBank(redis)
    store = MemoryStore(bank)
    for i, text in enumerate(FACTS):
        assert (await _remember(store, text, _e(i), t=i)).ok
    return store, _query(bank)


async def test_store_strips_the_request_and_query_quotes_it(redis: Redis) -> None:
    store, query = await _bank_with_facts(redis)
    saved = await _remember(store, "kom ihåg att min dotter heter Ella", _e(7))
    assert saved.answer == "Okej, jag har sparat: ”min dotter heter Ella”."
    found = await _ask(query, "vad är min portkod", _vec({0: 0.95, 1: 0.2}))
    assert found.answer == "Du bad mig komma ihåg: ”min portkod är 4512”."
    assert found.data["k"] == 1 and found.data["memories"][0]["score"] == pytest.approx(0.95, abs=1e-4)


async def test_topk_widens_when_unsure_or_crowded(redis: Redis) -> None:
    _, query = await _bank_with_facts(redis)  # floor 0.3, confident 0.6, margin 0.05
    clear = await _ask(query, "q", _vec({0: 0.7, 1: 0.6}))
    assert clear.data["k"] == 1  # a confident best, the next well behind: alone
    unsure = await _ask(query, "q", _vec({0: 0.5, 1: 0.48, 2: 0.2}))
    assert unsure.data["k"] == 2  # unsure: widened to 2; the third is below the floor
    close = await _ask(query, "q", _vec({3: 0.66, 2: 0.63, 0: 0.2}))
    assert close.data["k"] == 2  # confident, but the second is within the margin
    assert close.answer == "Du bad mig komma ihåg: ”jag parkerade på plan 3” och ”bilen ska på service i april”."
    weak = {i: 0.29 - 0.01 * i for i in range(6)}
    nothing = await _ask(query, "q", _vec(weak))
    assert nothing.data["k"] == 0 and nothing.answer == "Jag har inget sparat om det."
    wide = MemoryQuery(query.bank, steps=[1, 2, 3, 5], floor=0.2, confident=0.6, margin=0.05)
    everything = await _ask(wide, "q", _vec(weak))
    assert everything.data["k"] == 5  # stepped 1 → 2 → 3 → 5 and no further, though 6 pass the floor
    assert [m["text"] for m in everything.data["memories"]][:2] == ["min portkod är 4512", "Anna fyller år den 12 mars"]


async def test_steps_come_from_the_fibonacci_config_and_tools_fit_the_protocol(redis: Redis) -> None:
    store, query = memory_tools(redis)
    assert query.steps == (1, 2, 3, 5)
    tools: list[Tool] = [*timer_tools(redis), store, query]
    schemas = [json_schema(t) for t in tools]
    assert [s["name"] for s in schemas] == ["timer.set", "timer.cancel", "timer.status", "memory.store", "memory.query"]
    assert "duration_s" in schemas[0]["parameters"]["properties"]


async def test_nothing_found(redis: Redis) -> None:
    _, query = await _bank_with_facts(redis)
    nothing = await _ask(query, "hur högt är Kebnekaise", _e(12))
    assert (nothing.ok, nothing.answer) == (True, "Jag har inget sparat om det.")
    no_vector = await _ask(query, "vad är min portkod", None)
    assert (no_vector.ok, no_vector.error) == (False, "no_embedding")


async def test_memories_are_per_user_and_tenant(redis: Redis) -> None:
    _, query = await _bank_with_facts(redis)
    probe = _vec({0: 0.95})
    assert (await _ask(query, "vad är min portkod", probe)).data["k"] == 1
    for who in ({"user": "bo"}, {"tenant": "other"}, {"user": "anna:x"}):
        other = await _ask(query, "vad är min portkod", probe, **who)
        assert other.answer == "Jag har inget sparat om det.", who
        everything = await _ask(query, "vad har jag sparat", probe, **who)
        assert everything.answer == "Jag har inget sparat om dig.", who
    assert set(await redis.keys("alice:memory:*")) == {k.encode() for k in memory_keys("acme", "anna")}


async def test_the_oldest_memories_are_evicted(redis: Redis) -> None:
    bank = MemoryBank(redis, max_items=3)
    store, query = MemoryStore(bank), _query(bank)
    for i, text in enumerate(FACTS[:3]):
        await _remember(store, text, _e(i), t=i)
    refreshed = await _remember(store, FACTS[0], _e(0), t=10)  # the same fact again: refreshed, not doubled
    assert refreshed.data["evicted"] == []
    fourth = await _remember(store, FACTS[3], _e(3), t=11)
    assert len(fourth.data["evicted"]) == 1
    assert await redis.zcard(memory_keys("acme", "anna")[2]) == 3
    assert await redis.hlen(memory_keys("acme", "anna")[1]) == 3
    gone = await _ask(query, "när fyller Anna år", _vec({1: 0.95}))
    assert gone.answer == "Jag har inget sparat om det."  # the oldest was Anna's birthday, not the refreshed code
    kept = await _ask(query, "vad är min portkod", _vec({0: 0.95}))
    assert kept.answer == "Du bad mig komma ihåg: ”min portkod är 4512”."


async def test_list_items(redis: Redis) -> None:
    store, query = memory_tools(redis)
    added = await _remember(store, "lägg till mjölk, bröd och ägg på inköpslistan", _e(0))
    assert added.answer == "Okej, jag har lagt till mjölk, bröd och ägg på inköpslistan."
    again = await _remember(store, "lägg mjölk och smör på listan", _e(1), t=1)
    assert again.answer == "Okej, jag har lagt till smör på inköpslistan. Mjölk står redan på inköpslistan."
    await _remember(store, "skriv upp tandborste på packlistan", _e(2), t=2)
    listing = await _ask(query, "vad står på inköpslistan?", _e(9))
    assert listing.answer == "På inköpslistan står: mjölk, bröd, ägg och smör."
    assert (await _ask(query, "vad ska jag handla", _e(9))).answer == listing.answer
    assert (await _ask(query, "läs upp packlistan", _e(9))).answer == "På packlistan står: tandborste."
    assert (await _ask(query, "vad står på julklappslistan", _e(9))).answer == "Julklappslistan är tom."
    other = await _ask(query, "vad står på inköpslistan?", _e(9), user="bo")
    assert other.answer == "Inköpslistan är tom."


async def test_everything_newest_first(redis: Redis) -> None:
    _, query = await _bank_with_facts(redis)
    everything = await _ask(query, "vad har jag sparat", None)
    assert everything.answer.startswith("Du bad mig komma ihåg: ”jag gillar te utan socker”, ”jag lånat ut boken")
    assert everything.answer.endswith(" Och 1 sak till.")
    assert len(everything.data["memories"]) == 5


async def test_invalid_memory_arguments_raise(redis: Redis) -> None:
    store, _ = memory_tools(redis)
    assert store.args_from_context(_ctx("kom ihåg det här")) is None
    with pytest.raises(ToolArgumentsError):
        await store.run(MemoryStoreArgs.model_construct(fact=None, items=[]), _ctx("spara"))
    with pytest.raises(ToolArgumentsError):
        await store.run(MemoryStoreArgs.model_construct(fact="  .  ", items=[]), _ctx("spara"))
