"""Rate limits per API key (by role) and per tenant, shared by every guardian replica through Redis.

One Lua script checks every scope of a request and counts it in all of them, or in none: atomic under any
concurrency, so with N parallel requests against a limit of L exactly L pass. Windows are fixed and aligned on
Redis's own clock (``TIME``), so replicas with skewed clocks agree; a window's counter expires after it. A fixed
window lets a client spend its limit at the end of one window and again at the start of the next (at most 2 L
in one window's length); the simplicity buys one round trip and two keys per scope.

A refused request gets 429 with ``Retry-After`` (seconds to the window's end) and the ``RateLimit-Limit`` /
``RateLimit-Remaining`` / ``RateLimit-Reset`` headers (IETF draft, the tightest scope); an admitted one gets the
same three headers.

When Redis fails (``GUARDIAN_RATE_LIMIT_FALLBACK``): ``local`` (default) counts in this process with the same
limits (:class:`LocalLimiter`: each replica then allows up to the limit on its own); ``open`` lets requests
through; ``closed`` refuses them with 503. Redis calls go through a circuit breaker (``alice.breaker``), so
while Redis is down requests do not wait on its timeout. Every fallback is logged and counted
(``alice_guardian_ratelimit_total{outcome="unavailable"}``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import structlog

from alice.breaker import CircuitBreaker
from alice.errors import ConfigError, DependencyDownError, RateLimitedError

if TYPE_CHECKING:
    from guardian.policy import GuardRequest

log = structlog.get_logger("guardian.ratelimit")

#: KEYS: one counter prefix per scope. ARGV: limit and window (seconds) per scope. Returns
#: {admitted (1/0), the scope that decided (1-based), its limit, its remaining, its reset in ms}.
SCRIPT: Final = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local keys, counts, resets = {}, {}, {}
local tightest, tightest_left = 1, nil
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i - 1])
  local window_ms = tonumber(ARGV[2 * i]) * 1000
  local index = math.floor(now_ms / window_ms)
  keys[i] = KEYS[i] .. ':' .. index
  counts[i] = tonumber(redis.call('GET', keys[i]) or '0')
  resets[i] = (index + 1) * window_ms - now_ms
  if counts[i] >= limit then
    return {0, i, limit, 0, resets[i]}
  end
  local left = limit - counts[i] - 1
  if tightest_left == nil or left < tightest_left then
    tightest, tightest_left = i, left
  end
end
for i = 1, #KEYS do
  redis.call('INCR', keys[i])
  redis.call('PEXPIRE', keys[i], resets[i] + 1000)
end
return {1, tightest, tonumber(ARGV[2 * tightest - 1]), tightest_left, resets[tightest]}
"""

#: What decides while Redis is down (see the module docstring).
FALLBACKS: Final = ("local", "open", "closed")
_LIMIT_RE: Final = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|m|min|h)?\s*$", re.IGNORECASE)
_UNIT_S: Final = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


@dataclass(frozen=True)
class Limit:
    """``count`` requests per ``window_s`` seconds."""

    count: int
    window_s: int


def parse_limit(spec: str) -> Limit | None:
    """``"60/min"``, ``"60/60s"``, ``"1000/h"``, ``"10/5m"``; ``"0"`` or ``""`` means no limit (None)."""
    if spec.strip() in ("", "0"):
        return None
    match = _LIMIT_RE.match(spec)
    if match is None or not (match.group(2) or match.group(3)):
        raise ConfigError(f"rate limit {spec!r} is not COUNT/WINDOW such as 60/min or 100/30s")
    count, size, unit = int(match.group(1)), int(match.group(2) or 1), (match.group(3) or "s").lower()
    window = size * _UNIT_S[unit]
    if count < 1 or window < 1:
        raise ConfigError(f"rate limit {spec!r}: count and window must be at least 1")
    return Limit(count, window)


def parse_role_limits(spec: str) -> dict[str, Limit | None]:
    """Per-role key limits from ``"user=60/min,admin=600/min"``."""
    limits: dict[str, Limit | None] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        role, sep, limit = part.partition("=")
        if not sep or not role.strip():
            raise ConfigError(f"rate limits: {part!r} is not role=COUNT/WINDOW")
        limits[role.strip()] = parse_limit(limit)
    return limits


@dataclass(frozen=True)
class Decision:
    """What the limiter decided, with the numbers the RateLimit headers carry."""

    admitted: bool
    limit: int
    remaining: int
    reset_s: float

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(max(1, math.ceil(self.reset_s))),
        }


class RedisLimiter:
    """Counts requests in Redis with :data:`SCRIPT` (``redis.asyncio`` client)."""

    def __init__(self, redis: Any, prefix: str = "alice:ratelimit") -> None:
        self._redis = redis
        self._script = redis.register_script(SCRIPT)
        self._prefix = prefix

    async def hit(self, scopes: Sequence[tuple[str, Limit]]) -> Decision:
        keys = [f"{self._prefix}:{name}" for name, _ in scopes]
        args: list[int] = []
        for _, limit in scopes:
            args += [limit.count, limit.window_s]
        admitted, _scope, limit, remaining, reset_ms = await self._script(keys=keys, args=args)
        return Decision(bool(admitted), int(limit), int(remaining), int(reset_ms) / 1000)


class LocalLimiter:
    """The same fixed windows as :data:`SCRIPT`, counted in this process (the fallback while Redis is down)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._max_keys = max_keys

    async def hit(self, scopes: Sequence[tuple[str, Limit]]) -> Decision:
        now_ms = int(self._clock() * 1000)
        if len(self._counts) > self._max_keys:
            self._counts.clear()  # bounded memory: an outage long enough to fill it starts the windows afresh
        keys, resets = [], []
        tightest: Decision | None = None
        for name, limit in scopes:
            window_ms = limit.window_s * 1000
            index = now_ms // window_ms
            key = f"{name}:{limit.window_s}:{index}"
            reset_s = ((index + 1) * window_ms - now_ms) / 1000
            count = self._counts.get(key, 0)
            if count >= limit.count:
                return Decision(False, limit.count, 0, reset_s)
            left = limit.count - count - 1
            if tightest is None or left < tightest.remaining:
                tightest = Decision(True, limit.count, left, reset_s)
            keys.append(key)
            resets.append(reset_s)
        for key in keys:
            self._counts[key] = self._counts.get(key, 0) + 1
        return tightest or Decision(True, 0, 0, 1.0)  # no scopes: nothing to count


class Limiter(Protocol):
    """The port the policy step uses: ``hit`` counts one request in every scope, or refuses it."""

    async def hit(self, scopes: Sequence[tuple[str, Limit]]) -> Decision: ...


class RateLimit:
    """Admission (after authentication): the key's limit by role and the tenant's limit, in one atomic check."""

    def __init__(
        self,
        limiter: Limiter,
        role_limits: Mapping[str, Limit | None],
        tenant_limit: Limit | None,
        on_decision: Callable[[str], None] = lambda _outcome: None,
        fallback: str = "local",
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if fallback not in FALLBACKS:
            raise ConfigError(f"rate limit fallback {fallback!r} is not one of {', '.join(FALLBACKS)}")
        self.limiter = limiter
        self.role_limits = dict(role_limits)
        self.tenant_limit = tenant_limit
        self.on_decision = on_decision
        self.fallback = fallback
        self.local = LocalLimiter()
        self.breaker = breaker or CircuitBreaker("redis", what="Redis")

    def scopes(self, tenant: str, key_id: str, role: str) -> list[tuple[str, Limit]]:
        scopes: list[tuple[str, Limit]] = []
        key_limit = self.role_limits.get(role)
        if key_limit is not None:
            scopes.append((f"key:{key_id}", key_limit))
        if self.tenant_limit is not None:
            scopes.append((f"tenant:{tenant}", self.tenant_limit))
        return scopes

    async def __call__(self, request: GuardRequest) -> None:
        key = request.key
        if key is None:
            return
        scopes = self.scopes(key.tenant, key.id, key.role)
        if not scopes:
            return
        decision = await self._decide(scopes)
        if decision is None:
            return
        request.response_headers.update(decision.headers())
        if not decision.admitted:
            self.on_decision("limited")
            raise RateLimitedError(
                "Too many requests for this API key or tenant; wait and try again.",
                retry_after=decision.reset_s,
                headers=decision.headers(),
            )
        self.on_decision("admitted")

    async def _decide(self, scopes: Sequence[tuple[str, Limit]]) -> Decision | None:
        """Redis's decision; when Redis fails (or its breaker is open), the fallback's (None: let it through)."""
        try:
            async with self.breaker.guard():
                return await self.limiter.hit(scopes)
        except Exception as exc:  # noqa: BLE001 (any Redis failure, or the open breaker: the fallback decides)
            log.warning("ratelimit_unavailable", error=type(exc).__name__, fallback=self.fallback)
            self.on_decision("unavailable")
        if self.fallback == "open":
            return None
        if self.fallback == "closed":
            raise DependencyDownError("Rate limits cannot be checked right now; try again shortly.", retry_after=2)
        return await self.local.hit(scopes)
