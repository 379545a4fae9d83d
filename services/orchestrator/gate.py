"""The signature gate: only requests the guardian signed, each once, reach the orchestrator's handlers.

:func:`alice.signing.verify_request` checks the HMAC and the clock skew; the gate then records the nonce for
twice the skew window, so a replay of the same headers inside the window is refused as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from alice.errors import DependencyDownError, SignatureError
from alice.signing import Claims, NonceStore, verify_request

NONCE_PREFIX = "alice:nonce:"

log = structlog.get_logger("orchestrator.gate")


class RedisNonceStore:
    """Nonces in Redis (``SET alice:nonce:<nonce> 1 NX EX <ttl>``), shared by every orchestrator replica."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def add(self, nonce: str, ttl_s: float) -> bool:
        """True when the nonce is new; False when it was seen within its ttl (a replay)."""
        try:
            stored = await self._redis.set(NONCE_PREFIX + nonce, 1, nx=True, ex=max(1, math.ceil(ttl_s)))
        except RedisError as exc:
            # Fail closed: without the nonce check a captured request could be replayed.
            log.error("nonce_store_unavailable", error_type=type(exc).__name__)
            raise DependencyDownError("Replay protection is unavailable.", retry_after=2) from None
        return bool(stored)


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
