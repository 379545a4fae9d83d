"""``Idempotency-Key`` on ``POST /api/chat``: a retried request gets the stored answer instead of running again.

- The key is scoped to the caller (tenant and API key) and kept 24 h (``ORCHESTRATOR_IDEMPOTENCY_TTL_S``) in
  Redis (``alice:idem:<tenant>:<user>:<sha256 of the key>``), with a fingerprint (SHA-256) of the request body.
- The first request with a key marks it *pending* (``SET NX``), runs, and stores its answer: status, the route
  headers and the body (a streamed answer as its whole event stream). An answer that failed (an error status,
  an ``error`` event, a dropped stream) is not stored: the key is freed, so a retry runs again.
- The same key with the same body: the stored answer, with ``Idempotent-Replayed: true``. While the first one
  is still running: 409 ``idempotency_key_in_use`` with ``Retry-After``. The same key with a different body:
  422 ``idempotency_key_reused``. A key that is not 1–255 visible ASCII characters: 422.
- Without Redis, or while it fails, requests run as if they had no key (logged): availability over the
  guarantee, like the cache. A pending mark outlives a crashed worker by at most ``pending_ttl_s``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from alice.errors import IdempotencyInProgressError, IdempotencyKeyReusedError
from alice.idempotency import HEADER

log = structlog.get_logger("orchestrator.idempotency")

REPLAYED_HEADER: Final = "Idempotent-Replayed"
PREFIX: Final = "alice:idem:"


@dataclass(frozen=True)
class StoredAnswer:
    """An answer as it was sent: status, media type, the headers worth replaying, the body."""

    status: int
    media_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def dump(self, fingerprint: str) -> str:
        return json.dumps(
            {
                "state": "done",
                "fingerprint": fingerprint,
                "status": self.status,
                "media_type": self.media_type,
                "headers": self.headers,
                "body": base64.b64encode(self.body).decode(),
            }
        )


def owner(tenant: str, user: str) -> str:
    """The prefix of one caller's keys, ``alice:idem:<tenant>:<user>:`` (parts percent-encoded): a key is scoped
    to the caller, and forgetting a user removes their stored answers."""
    return f"{PREFIX}{quote(tenant, safe='')}:{quote(user, safe='')}:"


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class IdempotencyStore:
    """The stored answers in Redis (see the module docstring); None as Redis means no guarantee, no error."""

    def __init__(self, redis: Redis | None, ttl_s: int = 86_400, pending_ttl_s: int = 300) -> None:
        self._redis = redis
        self.ttl_s = ttl_s
        self.pending_ttl_s = pending_ttl_s

    @staticmethod
    def _name(owner: str, key: str) -> str:
        return owner + hashlib.sha256(key.encode()).hexdigest()[:32]

    async def begin(self, owner: str, key: str, body_fingerprint: str) -> StoredAnswer | None:
        """The stored answer to replay, or None: this request runs (it holds the key until :meth:`finish` or
        :meth:`release`). Raises 409 while another holder runs, 422 for a different body."""
        if self._redis is None:
            return None
        name = self._name(owner, key)
        pending = json.dumps({"state": "pending", "fingerprint": body_fingerprint})
        try:
            if await self._redis.set(name, pending, nx=True, ex=self.pending_ttl_s):
                return None
            raw = await self._redis.get(name)
        except (RedisError, OSError) as exc:
            log.warning("idempotency_unavailable", error_type=type(exc).__name__)
            return None
        if raw is None:  # expired between the two calls: run
            return None
        stored = json.loads(raw)
        if stored.get("fingerprint") != body_fingerprint:
            raise IdempotencyKeyReusedError(
                f"This {HEADER} was used for a different request in the last 24 h; use a new key."
            )
        if stored.get("state") != "done":
            raise IdempotencyInProgressError(
                f"The first request with this {HEADER} is still being answered; retry shortly.", retry_after=1
            )
        return StoredAnswer(
            status=int(stored["status"]),
            media_type=str(stored["media_type"]),
            body=base64.b64decode(stored["body"]),
            headers={str(k): str(v) for k, v in dict(stored.get("headers") or {}).items()},
        )

    async def finish(self, owner: str, key: str, body_fingerprint: str, answer: StoredAnswer) -> None:
        """Keep ``answer`` for the key's lifetime."""
        if self._redis is None:
            return
        try:
            await self._redis.set(self._name(owner, key), answer.dump(body_fingerprint), ex=self.ttl_s)
        except (RedisError, OSError) as exc:
            log.warning("idempotency_not_stored", error_type=type(exc).__name__)

    async def release(self, owner: str, key: str) -> None:
        """Free the key after a failed answer, so a retry runs again."""
        if self._redis is None:
            return
        try:
            await self._redis.delete(self._name(owner, key))
        except (RedisError, OSError) as exc:
            log.warning("idempotency_not_released", error_type=type(exc).__name__)
