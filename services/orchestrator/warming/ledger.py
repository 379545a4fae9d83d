"""The warmer's ledger in Redis: which cache entries it filled, and whether anyone asked for them afterwards.

Layout (prefix ``alice:warming:``): ``w:<entry id>`` hash (tenant, intent, when, the warmer's own hits on it),
``pending`` sorted set of entry ids not yet settled (by warm-up time), ``counters`` hash (``warmed``, ``used``,
``unused``, ``own_hits``), ``lock`` (one warming run at a time across replicas).

*Settling* (each run, :meth:`WarmLedger.settle`) compares an entry's hit count in the cache with the warmer's
own hits on it (a later warm-up that the semantic tier answered from it): more hits than the warmer's means a
user asked — **used**; an entry gone from the cache (expired, evicted, invalidated, thumbs-down) with none —
**unused**. ``final=True`` (end of a benchmark replay) settles the rest as unused too. Counting goes through
``ZREM`` so that two replicas settling the same entry count it once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.cache.store import CacheStore

PREFIX = "alice:warming:"
#: A ledger row outlives the longest cache tier (89 h), so an entry is settled before its row expires.
ROW_TTL_S = 90 * 3600
CHUNK = 1000

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Settled:
    """What one settling pass decided."""

    used: int = 0
    unused: int = 0


class WarmLedger:
    """Warmed entries, their settling, and the run lock."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._release = redis.register_script(_RELEASE)

    async def warmed(self, entry_id: str, tenant: str, intent: str, now: float) -> None:
        """Note an entry the warmer filled."""
        row = f"{PREFIX}w:{entry_id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(row, mapping={"tenant": tenant, "intent": intent, "at": repr(now), "own": 0})
            pipe.expire(row, ROW_TTL_S)
            pipe.zadd(f"{PREFIX}pending", {entry_id: now})
            pipe.hincrby(f"{PREFIX}counters", "warmed", 1)
            await pipe.execute()

    async def own_hit(self, entry_id: str) -> bool:
        """Note that a warm-up was answered from a warmed entry (not a user's use); False when it is not one."""
        row = f"{PREFIX}w:{entry_id}"
        if not await self.redis.exists(row):
            return False
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(row, "own", 1)
            pipe.hincrby(f"{PREFIX}counters", "own_hits", 1)
            await pipe.execute()
        return True

    async def settle(self, store: CacheStore, final: bool = False) -> Settled:
        """Decide used/unused for pending entries (see the module doc)."""
        raw = await self.redis.zrange(f"{PREFIX}pending", 0, -1)
        ids = [m.decode() if isinstance(m, bytes) else str(m) for m in raw]
        used: list[str] = []
        unused: list[str] = []
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            hits = await store.hits(chunk)
            async with self.redis.pipeline(transaction=False) as pipe:
                for entry_id in chunk:
                    pipe.hget(f"{PREFIX}w:{entry_id}", "own")
                owns = await pipe.execute()
            for entry_id, hit, own in zip(chunk, hits, owns, strict=True):
                own_hits = int(own or 0)
                if hit is not None and hit > own_hits:
                    used.append(entry_id)
                elif hit is None or final:
                    unused.append(entry_id)
        return Settled(await self._count(used, "used"), await self._count(unused, "unused"))

    async def _count(self, entry_ids: Sequence[str], outcome: str) -> int:
        if not entry_ids:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.zrem(f"{PREFIX}pending", entry_id)
            removed = await pipe.execute()
        mine = [entry_id for entry_id, gone in zip(entry_ids, removed, strict=True) if gone]
        if mine:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(f"{PREFIX}counters", outcome, len(mine))
                pipe.delete(*[f"{PREFIX}w:{entry_id}" for entry_id in mine])
                await pipe.execute()
        return len(mine)

    async def stats(self) -> dict[str, int]:
        """The counters and how many warm-ups are not settled yet."""
        raw = await self.redis.hgetall(f"{PREFIX}counters")
        counters = {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}
        return {
            "warmed": counters.get("warmed", 0),
            "used": counters.get("used", 0),
            "unused": counters.get("unused", 0),
            "own_hits": counters.get("own_hits", 0),
            "pending": int(await self.redis.zcard(f"{PREFIX}pending")),
        }

    async def acquire(self, seconds: float) -> str | None:
        """The run lock for at most ``seconds`` (a token to release it), or None while another run holds it."""
        token = secrets.token_hex(8)
        ok = await self.redis.set(f"{PREFIX}lock", token, nx=True, ex=max(1, int(seconds) + 1))
        return token if ok else None

    async def release(self, token: str) -> None:
        """Release the lock if it is still ours."""
        await self._release(keys=[f"{PREFIX}lock"], args=[token])
