"""The cache's state in Redis, shared by every orchestrator replica. Layout (prefix ``alice:cache:``):

- ``e:<id>``    hash: the question (text, intent, entities, scope, embedding), the answer, tier state; expires
  with its tier's TTL.
- ``x:<key>``   the entry id for an exact key (and for paraphrases already served, see ``alias``); same TTL.
- ``z``         sorted set of entry ids by expiry time: expired ids are pruned, and when the cache holds more
  than ``max_entries`` the ones closest to expiry (low tiers, not hit lately) are evicted.
- ``t:<tag>``   set of entry ids per tag (``tenant:acme``, ``intent:info.query``, ``model:…``, ``policy:…``)
  for invalidation; ``tags`` lists the tag sets. Ids of expired entries leave them with ``z`` (on each write).
- ``log``       stream of ``add``/``del`` events, capped: each replica replays it to keep its vector index in
  step with Redis.
- ``rl:<bucket>``  hash: request id → which entry answered it, for ``/api/feedback``; one hash per eighth of the
  feedback window (24 h), expiring a window after its eighth ends; each holds at most a ninth of
  ``max_links``, so the links are bounded in count as well as in time (a flood cannot fill Redis with them).
- ``n:<tenant>:<key>``  a recent upstream failure for that tenant's question (negative cache).
- ``stats``     counters shared by the replicas.

Every method raises :class:`redis.exceptions.RedisError` (or ``OSError``) when Redis fails; the caller decides
to bypass the cache.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from redis.asyncio import Redis

PREFIX = "alice:cache:"
#: Index events kept (~80 B each). A replica reads the log at every semantic lookup and rebuilds from the entries
#: every resync (300 s), so it needs only the events since its last lookup; a replica that fell further behind
#: misses adds (misses, not wrong answers) and drops deleted ids when it finds them gone. 100,000 kept ~8 MB that
#: a soak saw filling at ~18 events a second (alice bench load).
LOG_MAXLEN = 10_000
REQUEST_TTL_S = 24 * 3600
SCAN_COUNT = 500
#: The feedback window is cut into this many buckets of request links (one Redis hash each).
LINK_BUCKETS = 8
MAX_LINKS = 200_000

#: Adds one link to a bucket unless the bucket is full; a new bucket gets its expiry. KEYS[1] the bucket;
#: ARGV: request id, link, the bucket's cap, its expiry (Unix time). Returns 1 when stored, 0 when full.
_LINK_SCRIPT = """
local n = redis.call('HLEN', KEYS[1])
if n >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if n == 0 then redis.call('EXPIREAT', KEYS[1], ARGV[4]) end
return 1
"""


def _k(*parts: str) -> str:
    return PREFIX + ":".join(parts)


@dataclass(frozen=True)
class Entry:
    """One cached answer as stored."""

    id: str
    tenant: str
    text: str
    intent: str | None
    entities: tuple[dict[str, Any], ...]
    scope: str
    embedding: np.ndarray | None
    answer: dict[str, Any]
    exact_key: str
    tier: int
    hits: int
    hits_in_tier: int
    tier_since: float
    created: float
    fixed_ttl_s: int | None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def mapping(self) -> dict[str, str | bytes]:
        """The hash fields for Redis."""
        out: dict[str, str | bytes] = {
            "tenant": self.tenant,
            "text": self.text,
            "intent": self.intent or "",
            "entities": json.dumps(list(self.entities), ensure_ascii=False),
            "scope": self.scope,
            "answer": json.dumps(self.answer, ensure_ascii=False),
            "xk": self.exact_key,
            "tier": str(self.tier),
            "hits": str(self.hits),
            "hits_in_tier": str(self.hits_in_tier),
            "tier_since": repr(self.tier_since),
            "created": repr(self.created),
            "fixed_ttl": "" if self.fixed_ttl_s is None else str(self.fixed_ttl_s),
            "tags": ",".join(self.tags),
        }
        if self.embedding is not None:
            out["emb"] = np.asarray(self.embedding, dtype=np.float32).tobytes()
        return out

    @classmethod
    def from_hash(cls, entry_id: str, raw: dict[bytes, bytes]) -> Entry:
        """An entry from ``HGETALL``; ValueError/KeyError when the hash is not one of ours."""
        s = {k.decode(): v for k, v in raw.items()}
        text = {k: v.decode() for k, v in s.items() if k != "emb"}
        emb = np.frombuffer(s["emb"], dtype=np.float32) if s.get("emb") else None
        return cls(
            id=entry_id,
            tenant=text["tenant"],
            text=text["text"],
            intent=text["intent"] or None,
            entities=tuple(json.loads(text["entities"])),
            scope=text["scope"],
            embedding=emb,
            answer=json.loads(text["answer"]),
            exact_key=text["xk"],
            tier=int(text["tier"]),
            hits=int(text["hits"]),
            hits_in_tier=int(text["hits_in_tier"]),
            tier_since=float(text["tier_since"]),
            created=float(text["created"]),
            fixed_ttl_s=int(text["fixed_ttl"]) if text.get("fixed_ttl") else None,
            tags=tuple(t for t in text.get("tags", "").split(",") if t),
        )


@dataclass(frozen=True)
class LogEvent:
    """One add/del event of the stream that keeps replicas' indexes in step."""

    stream_id: str
    op: str
    entry_id: str
    scope: str


def new_entry_id() -> str:
    """A random entry id."""
    return secrets.token_hex(10)


class CacheStore:
    """The Redis operations of the answer cache (no policy here)."""

    def __init__(
        self,
        redis: Redis,
        max_entries: int,
        feedback_window_s: int = REQUEST_TTL_S,
        max_links: int = MAX_LINKS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # redis-py types replies as ``bytes | str`` unions (``decode_responses`` decides at run time); this
        # client never decodes, so replies are bytes and are decoded here, explicitly.
        self.redis: Any = redis
        self.max_entries = max_entries
        #: How long a request stays linked to the entry that answered it (feedback reaches the entry meanwhile).
        self.feedback_window_s = feedback_window_s
        #: Links kept at most (about 190 B of Redis memory each); beyond it new answers get none until a bucket ends.
        self.max_links = max_links
        self._clock = clock
        self._bucket_s = max(1, -(-feedback_window_s // LINK_BUCKETS))
        self._link_script = redis.register_script(_LINK_SCRIPT)

    # -- entries --------------------------------------------------------------------------------------------
    async def get(self, entry_id: str) -> Entry | None:
        """The entry, or None when it expired or was removed (or is not a cache entry)."""
        raw = await self.redis.hgetall(_k("e", entry_id))
        if not raw:
            return None
        try:
            return Entry.from_hash(entry_id, raw)
        except (KeyError, ValueError, UnicodeDecodeError):
            return None

    async def hits(self, entry_ids: Sequence[str]) -> list[int | None]:
        """The hit count of each entry (None where it expired or was removed), in one round trip."""
        if not entry_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.hget(_k("e", entry_id), "hits")
            raw = await pipe.execute()
        return [int(value) if value is not None else None for value in raw]

    async def entry_for_key(self, exact_key: str) -> Entry | None:
        """The entry stored (or aliased) under an exact key."""
        entry_id = await self.redis.get(_k("x", exact_key))
        return await self.get(entry_id.decode()) if entry_id else None

    async def put(self, entry: Entry, ttl_s: int, now: float) -> list[str]:
        """Store ``entry`` for ``ttl_s``; returns the ids evicted to stay within ``max_entries``."""
        e_key = _k("e", entry.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(e_key, mapping=entry.mapping())
            pipe.expire(e_key, ttl_s)
            pipe.set(_k("x", entry.exact_key), entry.id, ex=ttl_s)
            for tag in entry.tags:
                pipe.sadd(_k("t", tag), entry.id)
                pipe.sadd(_k("tags"), tag)
            pipe.zadd(_k("z"), {entry.id: now + ttl_s})
            if entry.embedding is not None:
                pipe.xadd(_k("log"), {"op": "add", "id": entry.id, "scope": entry.scope}, maxlen=LOG_MAXLEN)
            await pipe.execute()
        return await self._evict(now)

    async def alias(self, exact_key: str, entry_id: str, ttl_s: int) -> None:
        """Let ``exact_key`` (a paraphrase already answered from this entry) find the entry directly."""
        await self.redis.set(_k("x", exact_key), entry_id, ex=max(1, ttl_s))

    async def touch(
        self, entry: Entry, ttl_s: int, now: float, tier_fields: dict[str, str], counters: dict[str, int]
    ) -> None:
        """Record a hit: new tier state and expiry for the entry and its exact key, and the shared counters."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for name, amount in counters.items():
                pipe.hincrby(_k("stats"), name, amount)
            pipe.hincrby(_k("e", entry.id), "hits", 1)
            if tier_fields:
                pipe.hset(_k("e", entry.id), mapping=tier_fields)
            pipe.expire(_k("e", entry.id), ttl_s)
            pipe.expire(_k("x", entry.exact_key), ttl_s)
            pipe.zadd(_k("z"), {entry.id: now + ttl_s})
            await pipe.execute()

    async def delete(self, entry_ids: Sequence[str]) -> int:
        """Remove entries (and their exact keys and tag memberships); returns how many existed."""
        if not entry_ids:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.hmget(_k("e", entry_id), ["xk", "tags", "scope"])
            fields = await pipe.execute()
        removed = 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id, (xk, tags, scope) in zip(entry_ids, fields, strict=True):
                pipe.delete(_k("e", entry_id))
                pipe.zrem(_k("z"), entry_id)
                if xk:
                    pipe.delete(_k("x", xk.decode()))
                for tag in (tags or b"").decode().split(","):
                    if tag:
                        pipe.srem(_k("t", tag), entry_id)
                pipe.xadd(
                    _k("log"),
                    {"op": "del", "id": entry_id, "scope": (scope or b"").decode()},
                    maxlen=LOG_MAXLEN,
                )
                removed += 1 if xk else 0
            await pipe.execute()
        return removed

    async def _prune_expired(self, now: float) -> int:
        """Drop ids whose entry expired from ``z`` and from every tag set (Redis expired the hashes themselves)."""
        expired = await self.redis.zrangebyscore(_k("z"), "-inf", now, start=0, num=SCAN_COUNT)
        if not expired:
            return 0
        tags = await self.redis.smembers(_k("tags"))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(_k("z"), *expired)
            for tag in tags:
                pipe.srem(_k("t", tag.decode()), *expired)
            await pipe.execute()
        return len(expired)

    async def _evict(self, now: float) -> list[str]:
        """Prune expired ids; evict the entries nearest expiry beyond ``max_entries``."""
        await self._prune_expired(now)
        over = int(await self.redis.zcard(_k("z"))) - self.max_entries
        if over <= 0:
            return []
        popped = await self.redis.zpopmin(_k("z"), over)
        ids = [member.decode() for member, _score in popped]
        await self.delete(ids)
        return ids

    async def size(self, now: float) -> int:
        """Live entries (expired ids pruned first)."""
        await self._prune_expired(now)
        return int(await self.redis.zcard(_k("z")))

    async def all_entries(self) -> AsyncIterator[tuple[str, str, np.ndarray]]:
        """``(id, scope, embedding)`` of every live entry that has an embedding (for rebuilding an index)."""
        batch: list[bytes] = []
        async for key in self.redis.scan_iter(match=_k("e", "*"), count=SCAN_COUNT):
            batch.append(key)
            if len(batch) >= SCAN_COUNT:
                for row in await self._scopes_and_embeddings(batch):
                    yield row
                batch = []
        for row in await self._scopes_and_embeddings(batch):
            yield row

    async def _scopes_and_embeddings(self, keys: list[bytes]) -> list[tuple[str, str, np.ndarray]]:
        """``(id, scope, embedding)`` of ``keys`` that still hold an embedding, in one round trip."""
        if not keys:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, ["scope", "emb"])
            rows = await pipe.execute()
        prefix = len(_k("e", ""))
        return [
            (key.decode()[prefix:], (scope or b"").decode(), np.frombuffer(emb, np.float32))
            for key, (scope, emb) in zip(keys, rows, strict=True)
            if emb
        ]

    # -- index log ------------------------------------------------------------------------------------------
    async def log_tail(self) -> str:
        """The id of the newest log event ("0-0" when the log is empty)."""
        newest = await self.redis.xrevrange(_k("log"), count=1)
        return newest[0][0].decode() if newest else "0-0"

    async def read_log(self, after: str, count: int = 1000) -> list[LogEvent]:
        """Log events newer than ``after``."""
        result = await self.redis.xread({_k("log"): after}, count=count)
        events: list[LogEvent] = []
        for _stream, items in result or ():
            for stream_id, data in items:
                d = {k.decode(): v.decode() for k, v in data.items()}
                events.append(LogEvent(stream_id.decode(), d.get("op", ""), d.get("id", ""), d.get("scope", "")))
        return events

    # -- tags, flush ----------------------------------------------------------------------------------------
    async def ids_with_tags(self, tags: Iterable[str]) -> list[str]:
        """Ids carrying every tag in ``tags``."""
        keys = [_k("t", tag) for tag in tags]
        if not keys:
            return []
        members = await self.redis.sinter(keys)
        return sorted(m.decode() for m in members)

    async def flush(self) -> int:
        """Remove every cache key (entries, keys, tags, log, request links, negatives); returns entries removed."""
        removed = 0
        batch: list[str] = []
        async for key in self.redis.scan_iter(match=PREFIX + "*", count=SCAN_COUNT):
            name = key.decode()
            if name == _k("stats"):
                continue
            removed += name.startswith(_k("e", ""))
            batch.append(name)
            if len(batch) >= SCAN_COUNT:
                await self.redis.unlink(*batch)
                batch.clear()
        if batch:
            await self.redis.unlink(*batch)
        return removed

    # -- request links, negatives, counters ----------------------------------------------------------------
    async def link_request(self, request_id: str, entry_id: str, kind: str, tenant: str) -> bool:
        """Remember which entry answered ``request_id`` (for feedback); False when this bucket is full."""
        bucket = int(self._clock() // self._bucket_s)
        expires = (bucket + 1) * self._bucket_s + self.feedback_window_s
        cap = -(-self.max_links // (LINK_BUCKETS + 1))
        value = json.dumps({"id": entry_id, "kind": kind, "tenant": tenant})
        stored = await self._link_script(keys=[_k("rl", str(bucket))], args=[request_id, value, cap, expires])
        return bool(stored)

    async def request_link(self, request_id: str) -> dict[str, str] | None:
        """What :meth:`link_request` stored within the feedback window, or None."""
        newest = int(self._clock() // self._bucket_s)
        async with self.redis.pipeline(transaction=False) as pipe:
            for bucket in range(newest, newest - LINK_BUCKETS - 2, -1):
                pipe.hget(_k("rl", str(bucket)), request_id)
            found = [raw for raw in await pipe.execute() if raw]
        if not found:
            return None
        data = json.loads(found[0])
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None

    async def put_negative(self, tenant: str, exact_key: str, problem: dict[str, Any], ttl_s: int) -> None:
        """Remember an upstream failure of ``tenant``'s question for ``ttl_s``."""
        await self.redis.set(_k("n", tenant, exact_key), json.dumps(problem), ex=max(1, ttl_s))

    async def get_negative(self, tenant: str, exact_key: str) -> tuple[dict[str, Any], int] | None:
        """The remembered failure and its remaining seconds, or None."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(_k("n", tenant, exact_key))
            pipe.ttl(_k("n", tenant, exact_key))
            raw, ttl = await pipe.execute()
        if not raw:
            return None
        data = json.loads(raw)
        return (data, max(1, int(ttl))) if isinstance(data, dict) else None

    async def count(self, **fields: int) -> None:
        """Add to the shared counters."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for name, amount in fields.items():
                pipe.hincrby(_k("stats"), name, amount)
            await pipe.execute()

    async def counters(self) -> dict[str, int]:
        """The shared counters."""
        raw = await self.redis.hgetall(_k("stats"))
        return {k.decode(): int(v) for k, v in raw.items()}
