"""HMAC signature the guardian puts on every request it forwards, and its verification.

The signed string binds method, path (with query), timestamp, a nonce, the SHA-256 of the body and the
caller's claims (tenant, role, key id, allowed tools), so none of them can be changed in transit. The
orchestrator refuses a missing or wrong signature, a timestamp outside the allowed clock skew, and a nonce
it has seen before (replay), using :class:`NonceStore`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from alice.errors import SignatureError

HEADER_TIMESTAMP = "X-Alice-Timestamp"
HEADER_NONCE = "X-Alice-Nonce"
HEADER_CLAIMS = "X-Alice-Claims"
HEADER_SIGNATURE = "X-Alice-Signature"
SIGNED_HEADERS = (HEADER_TIMESTAMP, HEADER_NONCE, HEADER_CLAIMS, HEADER_SIGNATURE)


@dataclass(frozen=True)
class Claims:
    """Who the guardian says is calling."""

    tenant: str
    role: str
    key_id: str
    tools: tuple[str, ...] = field(default_factory=tuple)
    #: The guardian's load state (``normal``, ``brownout``): under brownout the orchestrator avoids the planner
    #: and deep routes.
    load: str = "normal"

    def encode(self) -> str:
        body: dict[str, Any] = {
            "tenant": self.tenant,
            "role": self.role,
            "key_id": self.key_id,
            "tools": list(self.tools),
        }
        if self.load != "normal":
            body["load"] = self.load
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Claims:
        padded = value + "=" * (-len(value) % 4)
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return cls(
            tenant=str(data["tenant"]),
            role=str(data["role"]),
            key_id=str(data["key_id"]),
            tools=tuple(str(t) for t in data.get("tools", [])),
            load=str(data.get("load", "normal")),
        )


def _message(method: str, path: str, timestamp: str, nonce: str, body: bytes, claims: str) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, timestamp, nonce, digest, claims]).encode()


def _mac(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_request(
    secret: bytes, method: str, path: str, body: bytes, claims: Claims, now: float | None = None
) -> dict[str, str]:
    """Headers that prove the guardian let this exact request through."""
    timestamp = str(int(now if now is not None else time.time()))
    nonce = secrets.token_hex(16)
    encoded = claims.encode()
    return {
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_CLAIMS: encoded,
        HEADER_SIGNATURE: _mac(secret, _message(method, path, timestamp, nonce, body, encoded)),
    }


@dataclass(frozen=True)
class VerifiedRequest:
    """A request whose signature checked out."""

    claims: Claims
    nonce: str
    timestamp: int


def verify_request(
    secret: bytes,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    max_skew_s: float,
    now: float | None = None,
) -> VerifiedRequest:
    """Check the signature and clock skew (not the nonce; see :class:`NonceStore`)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    values = [lowered.get(h.lower()) for h in SIGNED_HEADERS]
    if any(v is None or v == "" for v in values):
        raise SignatureError("Missing internal signature; call Alice through the guardian.")
    timestamp, nonce, encoded, signature = (str(v) for v in values)
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError("Malformed signature timestamp.") from None
    current = now if now is not None else time.time()
    if abs(current - ts) > max_skew_s:
        raise SignatureError("Signature timestamp outside the allowed clock skew.")
    expected = _mac(secret, _message(method, path, timestamp, nonce, body, encoded))
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("Invalid internal signature.")
    try:
        claims = Claims.decode(encoded)
    except (ValueError, KeyError, TypeError):
        raise SignatureError("Malformed signature claims.") from None
    return VerifiedRequest(claims=claims, nonce=nonce, timestamp=ts)


class NonceStore(Protocol):
    """Remembers nonces for the skew window; ``add`` is False when the nonce was already seen (a replay)."""

    async def add(self, nonce: str, ttl_s: float) -> bool: ...


class MemoryNonceStore:
    """A per-process nonce store (used when Redis is not configured)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._seen: dict[str, float] = {}
        self._clock = clock

    async def add(self, nonce: str, ttl_s: float) -> bool:
        now = self._clock()
        if len(self._seen) > 10_000:
            self._seen = {n: exp for n, exp in self._seen.items() if exp > now}
        expiry = self._seen.get(nonce)
        if expiry is not None and expiry > now:
            return False
        self._seen[nonce] = now + ttl_s
        return True
