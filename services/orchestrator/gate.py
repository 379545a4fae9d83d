"""The signature gate: only requests the guardian signed, each once, reach the orchestrator's handlers.

:func:`alice.signing.verify_request` checks the HMAC and the clock skew; the gate then records the nonce for
twice the skew window, so a replay of the same headers inside the window is refused as well.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from alice.breaker import BreakerState, CircuitBreaker
from alice.errors import CircuitOpenError, SignatureError
from alice.fibonacci import get_breaker_open_time
from alice.signing import Claims, MemoryNonceStore, NonceStore, verify_request
from orchestrator.redisbreaker import redis_breaker

NONCE_PREFIX = "alice:nonce:"

log = structlog.get_logger("orchestrator.gate")


class RedisNonceStore:
    """Nonces in Redis (``SET alice:nonce:<nonce> 1 NX EX <ttl>``), shared by every orchestrator replica.

    When Redis fails, the store degrades instead of failing: nonces go to an in-process
    :class:`~alice.signing.MemoryNonceStore` and requests keep being answered. Redis sits behind the kernel's
    circuit breaker (``alice.breaker``; ``redis-nonces``: open on the first failure, for 1, 2, 3, 5, 8, 13 s),
    so an outage does not cost every request Redis's socket timeout; after each open time one request at a time
    tries Redis again, the others stay on the fallback. ``nonce_store_degraded`` is logged once per outage,
    ``nonce_store_recovered`` when Redis answers.

    Trade-off, chosen on purpose (availability over a narrow replay window): while Redis is down each replica
    only knows its own nonces, so a captured request can be replayed once against *another* replica, or
    against this one after a restart, within the signature's validity (its clock-skew window). The signature
    is still required, so nothing in the request (body, path, claims) can be changed. Nonces recorded during
    the outage are still checked here for their ttl after Redis returns, so this replica never accepts a
    replay it saw itself.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff: Callable[[int], float] = get_breaker_open_time,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._redis = redis
        self._clock = clock
        self.breaker = breaker or nonce_breaker(clock, backoff)
        self._fallback = MemoryNonceStore(clock=clock)
        self._fallback_until = -math.inf  # nonces in the fallback matter until then
        self._down_since: float | None = None

    @property
    def degraded(self) -> bool:
        """True while Redis is considered down and nonces live in this process only."""
        return self.breaker.state is not BreakerState.CLOSED

    async def add(self, nonce: str, ttl_s: float) -> bool:
        """True when the nonce is new; False when it was seen within its ttl (a replay)."""
        try:
            async with self.breaker.guard():
                stored = await self._redis.set(NONCE_PREFIX + nonce, 1, nx=True, ex=max(1, math.ceil(ttl_s)))
        except CircuitOpenError:
            return await self._remember_locally(nonce, ttl_s)
        except (RedisError, OSError) as exc:
            if self._down_since is None:
                self._down_since = self._clock()
                log.warning(
                    "nonce_store_degraded",
                    error_type=type(exc).__name__,
                    detail="Redis is unavailable: replay protection is per process until it returns.",
                )
            return await self._remember_locally(nonce, ttl_s)
        if self._down_since is not None and not self.degraded:
            # A warning like its pair, so whoever saw the outage in the log also sees it end.
            log.warning("nonce_store_recovered", outage_s=round(self._clock() - self._down_since, 3))
            self._down_since = None
        if self._clock() < self._fallback_until:
            # Redis does not know the nonces of the outage; this replica still does.
            seen_here = not await self._fallback.add(nonce, ttl_s)
            return bool(stored) and not seen_here
        return bool(stored)

    async def _remember_locally(self, nonce: str, ttl_s: float) -> bool:
        self._fallback_until = max(self._fallback_until, self._clock() + ttl_s)
        return await self._fallback.add(nonce, ttl_s)


def nonce_breaker(
    clock: Callable[[], float] = time.monotonic, backoff: Callable[[int], float] = get_breaker_open_time
) -> CircuitBreaker:
    """The replay store's Redis breaker (``orchestrator.redisbreaker``)."""
    return redis_breaker("redis-nonces", "The replay store's Redis", clock, backoff)


class SignatureGate:
    """Verifies the guardian's signature and refuses replays."""

    def __init__(self, secret: bytes, nonces: NonceStore, max_skew_s: float) -> None:
        self._secret = secret
        self._nonces = nonces
        self._max_skew_s = max_skew_s

    async def check(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str], now: float | None = None
    ) -> Claims:
        """The caller's claims, or :class:`SignatureError` (403 ``invalid_signature``)."""
        verified = verify_request(self._secret, method, path, body, dict(headers), self._max_skew_s, now)
        if not await self._nonces.add(verified.nonce, 2 * self._max_skew_s):
            log.warning("signature_replayed", key_id=verified.claims.key_id, tenant=verified.claims.tenant)
            raise SignatureError("Replayed request (nonce already used).")
        return verified.claims


def signed_path(path: str, query: str) -> str:
    """The path as the guardian signs it: path, and ``?query`` when there is one."""
    return f"{path}?{query}" if query else path
