"""Request telemetry in Redis: what the next-intent model learns from and what the warmer reads.

After each answered chat request the orchestrator records one :class:`~.sessions.Event` (``record``). Layout
(prefix ``alice:telemetry:``):

- ``ev:<tenant>``  stream of events (``ts``, ``s`` session hash, ``u`` user hash, ``i`` intent, ``r`` route,
  ``h`` cache hit, ``q`` question), capped at ``max_events`` per tenant (approximately: ``XADD MAXLEN ~``) and expiring
  ``ttl_s`` after the tenant's last request.
- ``s:<session>``  the session's state for the warmer: tenant, last request time, requests so far, pace, the
  last intents (newest first); expires when the session has been idle for the session gap (30 min).
- ``active``       sorted set of sessions by their last request (idle ones are trimmed on each write).
- ``tenants``      sorted set of tenants by their last request.

**What it holds.** The question text is kept only for intents the answer cache may store (``keep_text``):
never for timers, calendar, e-mail, memories, home control or the clock. It is the text the orchestrator
received, i.e. after the guardian's personal-data redaction (personnummer, IBAN, card numbers… replaced by
tokens). Sessions are stored as a hash of tenant and session id (or API key id when the client sends none),
never the id itself; the user (API key) likewise, as a hash of tenant and key id, so that forgetting a user
(:meth:`TelemetryRecorder.forget`, ``DELETE /api/memory``) finds their events. The text never reaches a log
line. All of it expires (``ORCHESTRATOR_TELEMETRY_TTL_S``).

Recording never fails a request: a Redis error is logged (without the text) and the recorder bypasses Redis for
the breaker's open time (1, 2, 3, 5, 8, 13 s).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from alice.breaker import CircuitBreaker
from alice.errors import CircuitOpenError
from orchestrator.redisbreaker import redis_breaker
from orchestrator.warming.features import HISTORY, NO_INTENT, SESSION_GAP_S, Moment
from orchestrator.warming.sessions import Event

log = structlog.get_logger("orchestrator.warming")

T = TypeVar("T")
PREFIX = "alice:telemetry:"
READ_BATCH = 1000
MAX_ACTIVE = 10_000

# One round trip per request: the event, the session's state, the active and tenant indexes.
_RECORD = """
local ts = tonumber(ARGV[1])
local fields = {'ts', ARGV[1], 's', ARGV[3], 'i', ARGV[4], 'r', ARGV[5], 'h', ARGV[6], 'u', ARGV[13]}
if ARGV[7] ~= '' then
  table.insert(fields, 'q')
  table.insert(fields, ARGV[7])
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[8], '*', unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[9])
local prev = redis.call('HMGET', KEYS[2], 'ts', 'turns', 'hist')
local last = tonumber(prev[1] or '')
local turns, pace, hist = 0, 0, {}
if last and ts >= last and ts - last <= tonumber(ARGV[10]) then
  turns = tonumber(prev[2] or '0') or 0
  pace = ts - last
  if prev[3] then hist = cjson.decode(prev[3]) end
end
table.insert(hist, 1, ARGV[4])
while #hist > tonumber(ARGV[11]) do table.remove(hist) end
redis.call('HSET', KEYS[2], 'tenant', ARGV[2], 'ts', ARGV[1], 'turns', turns + 1, 'pace', tostring(pace),
  'hist', cjson.encode(hist))
redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[10])))
redis.call('ZADD', KEYS[3], ts, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ts - tonumber(ARGV[10]))
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -tonumber(ARGV[12]) - 1)
redis.call('ZADD', KEYS[4], ts, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ts - tonumber(ARGV[9]))
return turns + 1
"""


def session_hash(tenant: str, session: str) -> str:
    """The stored name of a session: a hash of tenant and session id (the id itself is never kept)."""
    return hashlib.sha256(f"{tenant}\x00{session}".encode()).hexdigest()[:24]


def user_hash(tenant: str, user: str) -> str:
    """The stored name of a user (API key id): a hash of tenant and key id."""
    return hashlib.sha256(f"{tenant}\x00user\x00{user}".encode()).hexdigest()[:24]


def telemetry_breaker() -> CircuitBreaker:
    """The recorder's Redis breaker (``orchestrator.redisbreaker``)."""
    return redis_breaker("redis-telemetry", "The telemetry's Redis")


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _event(tenant: str, data: dict[bytes, bytes]) -> Event | None:
    fields = {_text(k): _text(v) for k, v in data.items()}
    try:
        return Event(
            ts=float(fields["ts"]),
            tenant=tenant,
            session=fields["s"],
            intent=fields.get("i") or NO_INTENT,
            route=fields.get("r", ""),
            hit=fields.get("h") == "1",
            question=fields.get("q") or None,
        )
    except (KeyError, ValueError):
        return None


class TelemetryRecorder:
    """Records answered requests and reads them back (for training, sessions for the warmer, question pools)."""

    def __init__(
        self,
        redis: Redis,
        keep_text: Callable[[str], bool],
        max_events: int = 10_000,
        ttl_s: int = 7 * 86_400,
        gap_s: float = SESSION_GAP_S,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis: Any = redis
        self._keep_text = keep_text
        self.max_events = max_events
        self.ttl_s = ttl_s
        self.gap_s = gap_s
        self.breaker = breaker or telemetry_breaker()
        self._clock = clock
        self._record = self.redis.register_script(_RECORD)

    async def _guard(self, op: str, call: Callable[[], Awaitable[T]], default: T) -> T:
        try:
            async with self.breaker.guard():
                return await call()
        except CircuitOpenError:
            return default
        except (RedisError, OSError) as exc:
            log.warning("telemetry_bypassed", op=op, error_type=type(exc).__name__)
            return default

    async def record(
        self,
        tenant: str,
        session: str,
        intent: str | None,
        route: str,
        hit: bool,
        question: str,
        ts: float | None = None,
        user: str = "",
    ) -> bool:
        """Record one answered request (``session``: the client's session id, or a stand-in such as the API key
        id); False when Redis is unavailable (the request is not affected)."""
        label = intent or NO_INTENT
        now = self._clock() if ts is None else ts
        sid = session_hash(tenant, session)
        keys = [f"{PREFIX}ev:{tenant}", f"{PREFIX}s:{sid}", f"{PREFIX}active", f"{PREFIX}tenants"]
        text = question if self._keep_text(label) else ""
        args = [repr(now), tenant, sid, label, route, "1" if hit else "0", text]
        args += [str(self.max_events), str(self.ttl_s), repr(float(self.gap_s)), str(HISTORY), str(MAX_ACTIVE)]
        args.append(user_hash(tenant, user) if user else "")

        async def run() -> bool:
            await self._record(keys=keys, args=args)
            return True

        return await self._guard("record", run, False)

    async def forget(self, tenant: str, user: str) -> int:
        """Delete every event of ``user`` (and the state of their sessions); returns how many events there were.
        Raises ``RedisError`` when Redis fails (a forget must not report success it did not have)."""
        stream, wanted = f"{PREFIX}ev:{tenant}", user_hash(tenant, user).encode()
        ids: list[Any] = []
        sessions: set[bytes] = set()
        start = "-"
        while True:
            batch = await self.redis.xrange(stream, min=start, count=READ_BATCH)
            for stream_id, data in batch:
                if data.get(b"u") == wanted:
                    ids.append(stream_id)
                    sessions.add(data.get(b"s", b""))
            if len(batch) < READ_BATCH:
                break
            start = "(" + _text(batch[-1][0])
        async with self.redis.pipeline(transaction=True) as pipe:
            for chunk in range(0, len(ids), READ_BATCH):
                pipe.xdel(stream, *ids[chunk : chunk + READ_BATCH])
            for sid in sessions - {b""}:
                pipe.delete(f"{PREFIX}s:{_text(sid)}")
                pipe.zrem(f"{PREFIX}active", sid)
            await pipe.execute()
        return len(ids)

    async def tenants(self) -> list[str]:
        """Tenants with telemetry, most recently active first."""
        raw = await self.redis.zrevrange(f"{PREFIX}tenants", 0, -1)
        return [_text(t) for t in raw]

    async def events(self, tenant: str) -> list[Event]:
        """Every stored event of ``tenant``, oldest first (raises ``RedisError`` when Redis fails)."""
        out: list[Event] = []
        start = "-"
        while True:
            batch = await self.redis.xrange(f"{PREFIX}ev:{tenant}", min=start, count=READ_BATCH)
            for _stream_id, data in batch:
                event = _event(tenant, data)
                if event is not None:
                    out.append(event)
            if len(batch) < READ_BATCH:
                return out
            start = "(" + _text(batch[-1][0])

    async def recent(self, tenant: str, count: int) -> list[Event]:
        """The newest ``count`` events of ``tenant`` (newest first); empty when Redis fails."""

        async def run() -> list[Event]:
            batch = await self.redis.xrevrange(f"{PREFIX}ev:{tenant}", count=count)
            return [e for _id, data in batch if (e := _event(tenant, data)) is not None]

        return await self._guard("recent", run, [])

    async def active(self, since: float, limit: int) -> list[Moment]:
        """Sessions whose last request was at ``since`` or later (newest first), as moments for the model;
        empty when Redis fails."""

        async def run() -> list[Moment]:
            sids = await self.redis.zrevrangebyscore(f"{PREFIX}active", "+inf", since, start=0, num=limit)
            if not sids:
                return []
            async with self.redis.pipeline(transaction=False) as pipe:
                for sid in sids:
                    pipe.hmget(f"{PREFIX}s:{_text(sid)}", ["tenant", "ts", "turns", "pace", "hist"])
                states = await pipe.execute()
            return [m for state in states if (m := _moment(state)) is not None]

        return await self._guard("active", run, [])


def _moment(state: list[Any]) -> Moment | None:
    tenant, ts, turns, pace, hist = state
    if tenant is None or ts is None or hist is None:
        return None
    try:
        history = tuple(str(i) for i in json.loads(_text(hist)))
        return Moment(_text(tenant), history, float(_text(ts)), int(_text(turns)), float(_text(pace)))
    except (TypeError, ValueError):
        return None
