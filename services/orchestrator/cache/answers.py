"""The answer cache the chat flow talks to: exact tier, semantic tier, negative cache, feedback, invalidation.

- **Exact** (:meth:`AnswerCache.exact`): the canonical key of the question (:mod:`.keys`), looked up before the
  NLU is asked, so a repeat costs one Redis round trip and no embedding.
- **Semantic** (:meth:`AnswerCache.semantic`): the NLU's embedding searched in this replica's vector index (the
  spiral index, :mod:`.spiral`) among entries of the same scope (tenant, intent, key entities, negation —
  :func:`.semantic.scope_key`), the candidate then checked by :class:`.semantic.SemanticMatcher`. A hit also
  aliases the paraphrase's exact key to the entry, so its next repeat is an exact hit.
- **Tiers** (:mod:`.tiers`): L1…L10 TTLs climbed by hits and age (an entry expires its tier's TTL after it
  entered the tier); volatile intents get a fixed TTL or none; an answer about a dated day ("imorgon") lives
  at most to the end of today (Stockholm).
- **Negative**: a tenant's question whose upstream failed (502/503/504) is answered with the same problem for a
  few seconds instead of calling the failing backend again; 4xx (429, auth) are never stored.

Redis holds all state (:mod:`.store`), so replicas share hits; each replica's index follows Redis through the
store's event log. When Redis fails the cache is bypassed (lookups miss, stores are skipped) for a back-off of
1, 2, 3, 5, 8, 13 s (the Fibonacci breaker times), then tried again; on return the index is rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import structlog
from redis.exceptions import RedisError

from alice.breaker import BreakerState, CircuitBreaker
from alice.errors import CircuitOpenError
from orchestrator.cache.calibration import packaged_projection
from orchestrator.cache.keys import KeyContext, exact_key
from orchestrator.cache.semantic import Question, SemanticMatcher, scope_key
from orchestrator.cache.spiral import SpiralIndex
from orchestrator.cache.store import CacheStore, Entry, new_entry_id
from orchestrator.cache.tiers import IntentRule, TierPolicy, TierState, rule_for
from orchestrator.redisbreaker import redis_breaker

log = structlog.get_logger("orchestrator.cache")

T = TypeVar("T")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
#: Upstream failures worth remembering; client errors (auth, 429, validation) never are.
NEGATIVE_STATUSES = frozenset({502, 503, 504})
SEMANTIC_CANDIDATES = 3
# Log events read per lookup at most (LOG_BATCHES x LOG_BATCH); a replica further behind rebuilds on resync.
LOG_BATCH = 1000
LOG_BATCHES = 10


@dataclass(frozen=True)
class CacheConfig:
    """The cache's knobs (from the orchestrator's settings)."""

    tiers: TierPolicy
    rules: tuple[IntentRule, ...]
    max_entries: int = 10_000
    negative_ttl_s: int = 5
    resync_s: float = 300.0
    spiral_points: int = 89
    spiral_dimensions: int = 2
    spiral_probes: int = 21
    #: A scope with at most this many entries is scanned exactly (cheaper than probing cells below ~1,000).
    spiral_exact_below: int = 1024
    semantic: bool = True


@dataclass(frozen=True)
class CachedAnswer:
    """A hit: the stored answer, its tier and how it was found."""

    entry_id: str
    answer: dict[str, Any]
    tier: int
    kind: str
    similarity: float | None = None


def cache_breaker(clock: Callable[[], float] = time.monotonic) -> CircuitBreaker:
    """The cache's Redis breaker (``orchestrator.redisbreaker``)."""
    return redis_breaker("redis-cache", "The cache's Redis", clock)


@dataclass
class IndexState:
    """This replica's vector index and how far it has read the store's log."""

    index: SpiralIndex | None = None
    log_id: str = "0-0"
    synced_at: float = 0.0
    stale: bool = True
    #: Counts the times the index was marked stale: a rebuild that started before the last mark leaves it stale.
    marks: int = 0

    def mark_stale(self) -> None:
        """The index may miss changes (Redis failed, the cache was flushed): rebuild before the next lookup."""
        self.stale = True
        self.marks += 1


def _vector(embedding: Any) -> np.ndarray | None:
    """The embedding as a float32 array (None stays None)."""
    return None if embedding is None else np.asarray(embedding, dtype=np.float32)


def day_end(now: float) -> float:
    """The end of the current day in Stockholm, as a Unix time."""
    local = datetime.fromtimestamp(now, STOCKHOLM)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp()


class AnswerCache:
    """Exact + semantic answer cache over :class:`CacheStore`; never raises for a Redis failure."""

    def __init__(
        self,
        store: CacheStore,
        config: CacheConfig,
        context: KeyContext,
        matcher: SemanticMatcher,
        clock: Callable[[], float] = time.time,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.context = context
        self.matcher = matcher
        self._clock = clock
        #: Opens on the first Redis failure: the cache is then bypassed for 1, 2, 3, 5, 8, 13 s between trials.
        self.breaker = breaker or cache_breaker(clock)
        self._index = IndexState()
        #: The one rebuild in flight: concurrent lookups share it instead of each building their own index.
        self._rebuilding: asyncio.Task[None] | None = None
        self.rebuilds = 0
        self.bypassed = 0

    # -- Redis guard ----------------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """False while Redis is being bypassed after a failure (the breaker is open)."""
        return self.breaker.state is not BreakerState.OPEN

    async def _guard(self, op: str, call: Callable[[], Awaitable[T]], default: T) -> T:
        try:
            async with self.breaker.guard():
                return await call()
        except CircuitOpenError:
            self.bypassed += 1
            return default
        except (RedisError, OSError) as exc:
            self._index.mark_stale()  # rebuilt from Redis once it answers again
            self.bypassed += 1
            log.warning("cache_bypassed", op=op, error_type=type(exc).__name__, retry_in_s=self.breaker.retry_after())
            return default

    # -- keys -----------------------------------------------------------------------------------------------
    def key(self, tenant: str, text: str, force_route: str | None = None) -> str:
        """The exact key of ``text`` for ``tenant`` under the current model/prompt/policy/NLU versions."""
        return exact_key(tenant, text, self.context, force_route)

    def set_nlu_version(self, version: str) -> None:
        """The NLU model version changed (keys include it)."""
        if version and version != self.context.nlu_version:
            self.context = KeyContext(
                self.context.model, self.context.prompt_version, self.context.policy_version, version
            )

    # -- lookups --------------------------------------------------------------------------------------------
    async def exact(self, tenant: str, key: str) -> CachedAnswer | None:
        """The answer stored under ``key`` for ``tenant`` (a hit climbs its tier)."""

        async def lookup() -> CachedAnswer | None:
            entry = await self.store.entry_for_key(key)
            if entry is None or entry.tenant != tenant:
                return None
            await self._hit(entry, "exact")
            return CachedAnswer(entry.id, entry.answer, entry.tier, "exact")

        return await self._guard("exact", lookup, None)

    async def semantic(self, tenant: str, question: Question, key: str) -> CachedAnswer | None:
        """The nearest in-scope entry the matcher accepts, or None."""
        vector = _vector(question.embedding)
        if not self.config.semantic or vector is None:
            return None
        if rule_for(self.config.rules, question.intent) is not None:
            return None
        scope = scope_key(tenant, question.intent, question.entities, question.text)

        async def lookup() -> CachedAnswer | None:
            index = await self._synced_index(vector)
            for entry_id, similarity in index.search(vector, scope=scope, k=SEMANTIC_CANDIDATES):
                entry = await self.store.get(entry_id)
                if entry is None:
                    index.remove(entry_id)
                    continue
                if entry.tenant != tenant or entry.scope != scope:
                    continue
                candidate = Question(entry.text, entry.intent, entry.entities, entry.embedding)
                if self.matcher.accepts(question, candidate, similarity):
                    ttl = await self._hit(entry, "semantic")
                    await self.store.alias(key, entry.id, ttl)
                    return CachedAnswer(entry.id, entry.answer, entry.tier, "semantic", round(similarity, 4))
            return None

        return await self._guard("semantic", lookup, None)

    async def _hit(self, entry: Entry, kind: str) -> int:
        """Count a hit (it may climb a tier, which restarts its clock); returns its remaining TTL in seconds."""
        now = self._clock()
        counters = {f"hits_{kind}": 1, f"hits_L{entry.tier}": 1}
        if entry.fixed_ttl_s is not None:
            await self.store.count(**counters)
            return max(1, int(entry.created + entry.fixed_ttl_s - now))
        policy = self.config.tiers
        state = policy.on_hit(TierState(entry.tier, entry.hits_in_tier, entry.tier_since), now)
        ttl = self._capped(max(1, int(policy.expires(state) - now)), entry.entities, now)
        fields = {
            "tier": str(state.tier),
            "hits_in_tier": str(state.hits_in_tier),
            "tier_since": repr(state.tier_since),
        }
        if state.tier != entry.tier:
            counters["promoted"] = 1
        await self.store.touch(entry, ttl, now, fields, counters)
        return ttl

    @staticmethod
    def _capped(ttl: int, entities: Sequence[Mapping[str, Any]], now: float) -> int:
        """A question about a dated day ("imorgon", "på fredag") is answered again tomorrow."""
        if any(e.get("type") == "date" for e in entities):
            return max(1, min(ttl, int(day_end(now) - now)))
        return ttl

    # -- index ----------------------------------------------------------------------------------------------
    async def _synced_index(self, probe: np.ndarray) -> SpiralIndex:
        """This replica's index, caught up with the store's log. A missing or stale index is rebuilt first (one
        rebuild for all concurrent lookups); the periodic resync runs in the background while lookups go on with
        the current index (under load, a rebuild per waiting request once stalled lookups for seconds)."""
        state = self._index
        dim = int(probe.shape[0])
        if state.index is None or state.stale:
            await asyncio.shield(self._start_rebuild(dim))
        elif self._clock() - state.synced_at > self.config.resync_s:
            self._start_rebuild(dim)
        index = state.index
        if index is None:  # a finished rebuild always sets it
            raise RuntimeError("cache index missing after rebuild")
        for _ in range(LOG_BATCHES):
            events = await self.store.read_log(state.log_id, LOG_BATCH)
            for event in events:
                if state.index is not index:
                    return index  # a rebuild swapped in a newer index: it reads the log from its own start
                if event.op == "del":
                    index.remove(event.entry_id)
                elif event.op == "add" and event.entry_id not in index:
                    entry = await self.store.get(event.entry_id)
                    if entry is not None and entry.embedding is not None:
                        index.add(entry.id, entry.embedding, entry.scope)
                if state.index is index:
                    state.log_id = event.stream_id
            if len(events) < LOG_BATCH:
                break
        return index

    def _start_rebuild(self, dim: int) -> asyncio.Task[None]:
        """The rebuild in flight, or a new one."""
        task = self._rebuilding
        if task is None or task.done():
            task = self._rebuilding = asyncio.create_task(
                self._rebuild(dim, self._index.marks), name="cache-index-rebuild"
            )
            task.add_done_callback(self._rebuilt)
        return task

    def _rebuilt(self, task: asyncio.Task[None]) -> None:
        """A background rebuild that failed leaves the index stale (the next lookup tries again, guarded)."""
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._index.mark_stale()
            log.warning("cache_index_rebuild_failed", error_type=type(exc).__name__)

    async def aclose(self) -> None:
        """Stop a rebuild in flight (at shutdown)."""
        task = self._rebuilding
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # shutting down: its outcome no longer matters
                await task

    async def _rebuild(self, dim: int, marks: int) -> None:
        """A new index from every entry in Redis; ``marks``: the stale marks when it was asked for."""
        state = self._index
        started = time.perf_counter()
        tail = await self.store.log_tail()
        cfg = self.config
        index = SpiralIndex(
            dim,
            points=cfg.spiral_points,
            dimensions=cfg.spiral_dimensions,
            probes=cfg.spiral_probes,
            projection=packaged_projection(dim),
            exact_below=cfg.spiral_exact_below,
        )
        async for entry_id, scope, embedding in self.store.all_entries():
            if embedding.shape[0] == dim:
                index.add(entry_id, embedding, scope)
        state.index, state.log_id, state.synced_at = index, tail, self._clock()
        state.stale = state.marks != marks  # marked stale meanwhile: this index may miss that change
        self.rebuilds += 1
        log.info("cache_index_rebuilt", entries=len(index), ms=round((time.perf_counter() - started) * 1000, 1))

    # -- writes ---------------------------------------------------------------------------------------------
    async def put(self, tenant: str, key: str, question: Question, answer: dict[str, Any]) -> str | None:
        """Store a fresh answer; returns its entry id, or None when the intent is not cached or Redis is down."""
        rule = rule_for(self.config.rules, question.intent)
        if rule is not None and rule.ttl_s is None:
            return None
        now = self._clock()
        start = self.config.tiers.start(now)
        fixed = rule.ttl_s if rule is not None else None
        ttl = self._capped(fixed or self.config.tiers.ttl(start.tier), question.entities, now)
        entry = Entry(
            id=new_entry_id(),
            tenant=tenant,
            text=question.text,
            intent=question.intent,
            entities=tuple(dict(e) for e in question.entities),
            scope=scope_key(tenant, question.intent, question.entities, question.text),
            embedding=_vector(question.embedding) if fixed is None else None,
            answer=answer,
            exact_key=key,
            tier=start.tier,
            hits=0,
            hits_in_tier=0,
            tier_since=now,
            created=now,
            fixed_ttl_s=fixed,
            tags=self._tags(tenant, question.intent, answer),
        )

        async def write() -> str:
            evicted = await self.store.put(entry, ttl, now)
            await self.store.count(stored=1, evicted=len(evicted))
            return entry.id

        return await self._guard("put", write, None)

    def _tags(self, tenant: str, intent: str | None, answer: dict[str, Any]) -> tuple[str, ...]:
        return (
            f"tenant:{tenant}",
            f"intent:{intent or 'none'}",
            f"model:{answer.get('model') or self.context.model}",
            f"policy:{self.context.policy_version}",
        )

    async def link(self, request_id: str | None, entry_id: str | None, kind: str, tenant: str) -> None:
        """Remember which entry answered a request, so feedback on it can reach the entry."""
        if request_id and entry_id:
            rid, eid = request_id, entry_id
            stored = await self._guard("link", lambda: self.store.link_request(rid, eid, kind, tenant), None)
            if stored is False:  # the links' bound is reached: this answer cannot get feedback
                await self.count(links_dropped=1)

    async def count(self, **fields: int) -> None:
        """Add to the shared counters (best effort)."""
        await self._guard("count", lambda: self.store.count(**fields), None)

    # -- negative cache -------------------------------------------------------------------------------------
    async def failure(self, tenant: str, key: str) -> tuple[dict[str, Any], int] | None:
        """A recent upstream failure of this tenant's question: (problem fields, seconds left)."""
        return await self._guard("negative_get", lambda: self.store.get_negative(tenant, key), None)

    async def remember_failure(self, tenant: str, key: str, status: int, code: str, detail: str) -> bool:
        """Remember an upstream failure for ``negative_ttl_s``; False for statuses that are never remembered."""
        if status not in NEGATIVE_STATUSES or self.config.negative_ttl_s <= 0:
            return False
        problem = {"status": status, "code": code, "detail": detail}
        ttl = self.config.negative_ttl_s
        await self._guard("negative_put", lambda: self.store.put_negative(tenant, key, problem, ttl), None)
        return True

    # -- feedback, invalidation -----------------------------------------------------------------------------
    async def feedback(self, tenant: str, request_id: str, rating: str) -> dict[str, Any] | None:
        """Apply a rating to the entry that answered ``request_id``; None when that request is unknown here."""

        async def apply() -> dict[str, Any] | None:
            link = await self.store.request_link(request_id)
            if link is None or link.get("tenant") != tenant:
                return None
            invalidated = False
            if rating == "down":
                invalidated = await self.store.delete([link["id"]]) > 0
                reports = {"false_hit_reports": 1} if link.get("kind") == "semantic" else {}
                await self.store.count(feedback_down=1, **reports)
            else:
                await self.store.count(feedback_up=1)
            return {"cache_entry": link["id"], "cache_kind": link.get("kind"), "invalidated": invalidated}

        return await self._guard("feedback", apply, None)

    async def invalidate(self, tags: dict[str, str]) -> int | None:
        """Remove every entry carrying all the given tags (``{"tenant": "acme", "intent": "info.query"}``)."""
        names = [f"{kind}:{value}" for kind, value in sorted(tags.items())]

        async def run() -> int:
            removed = await self.store.delete(await self.store.ids_with_tags(names))
            await self.store.count(invalidated=removed)
            return removed

        return await self._guard("invalidate", run, None)

    async def flush(self) -> int | None:
        """Remove everything cached (entries, keys, negatives, request links)."""

        async def run() -> int:
            removed = await self.store.flush()
            self._index.mark_stale()
            return removed

        return await self._guard("flush", run, None)

    async def stats(self) -> dict[str, Any]:
        """Size and shared counters (empty when Redis is down)."""

        async def run() -> dict[str, Any]:
            size = await self.store.size(self._clock())
            return {"entries": size, "counters": await self.store.counters()}

        empty: dict[str, Any] = {"entries": None, "counters": {}}
        data = await self._guard("stats", run, empty)
        index = self._index.index
        return {
            **data,
            "available": self.available,
            "bypassed_ops": self.bypassed,
            "max_entries": self.config.max_entries,
            "index_entries": len(index) if index is not None else 0,
            "key_context": self.context.__dict__,
        }
