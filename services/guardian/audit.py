"""The audit trail: one entry per guardian decision, append-only, never with personal data.

Every request through a guarded route ends as exactly one entry: ``allow`` (forwarded), ``redact`` (forwarded
after personal data was replaced), ``deny`` (refused: authentication, role, validation, size, a blocked message,
a denied tool) or ``limit`` (429); ``error`` when the client went away or the guardian itself failed. An entry
holds the time, request id, route, tenant and key id (when the key was known), the decision, a reason code (the
problem ``code``, or ``ok``), the status the client got from the guardian (the orchestrator's own status for
forwarded requests) and, for redactions, the kinds and counts of personal data — never the message, the key or
a value.

Sinks: a Redis stream (``XADD`` with ``MINID``: entries older than the retention are trimmed as new ones arrive,
approximately; and ``XTRIM MAXLEN ~`` to a count, so the stream stays bounded in memory whatever the rate) and,
optionally, a JSON Lines file flushed and fsynced per entry
(durable across a Redis loss). A sink that fails is logged and counted and never fails the request.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import structlog

from alice.breaker import CircuitBreaker

log = structlog.get_logger("guardian.audit")

STREAM: Final = "alice:audit"
#: Ends that are nobody's decision: the client went away, or the guardian itself failed.
_ERRORS: Final = frozenset({"client_disconnected", "internal_error"})


@dataclass(frozen=True)
class AuditEntry:
    """One decision (see the module docstring)."""

    ts: float
    request_id: str | None
    route: str
    decision: str
    reason: str
    status: int
    tenant: str | None = None
    key_id: str | None = None
    pii: Mapping[str, int] = field(default_factory=dict)

    def as_fields(self) -> dict[str, str]:
        """Flat string fields for a Redis stream entry."""
        body = asdict(self)
        body["pii"] = json.dumps(dict(self.pii), sort_keys=True) if self.pii else ""
        return {k: "" if v is None else str(v) for k, v in body.items()}

    @classmethod
    def from_fields(cls, fields: Mapping[str | bytes, str | bytes]) -> AuditEntry:
        """The entry back from a stream entry's fields."""
        text = {_text(k): _text(v) for k, v in fields.items()}
        return cls(
            ts=float(text["ts"]),
            request_id=text.get("request_id") or None,
            route=text.get("route", ""),
            decision=text.get("decision", ""),
            reason=text.get("reason", ""),
            status=int(text.get("status") or 0),
            tenant=text.get("tenant") or None,
            key_id=text.get("key_id") or None,
            pii=json.loads(text["pii"]) if text.get("pii") else {},
        )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decide(status: int, code: str | None, pii: Mapping[str, int]) -> tuple[str, str]:
    """The decision and reason of a request that ended with ``status`` (and the problem ``code`` when the
    guardian refused it)."""
    if code in _ERRORS:
        return "error", str(code)
    if code is not None:
        return ("limit" if status == 429 else "deny"), code
    return ("redact" if pii else "allow"), "ok"


class AuditSink(Protocol):
    async def write(self, entry: AuditEntry) -> None: ...


class RedisAuditSink:
    """Entries in a Redis stream, trimmed to ``retention_s`` (approximate ``MINID``) and, when given, to about
    ``max_entries`` (approximate ``MAXLEN``, in the same round trip): whichever bound is reached first."""

    def __init__(
        self,
        redis: Any,
        retention_s: float,
        stream: str = STREAM,
        breaker: CircuitBreaker | None = None,
        max_entries: int | None = None,
    ) -> None:
        self._redis = redis
        self._retention_ms = int(retention_s * 1000)
        self._max_entries = max_entries
        self.stream = stream
        #: While Redis is down, writes fail at once (counted as audit errors) instead of after its timeout.
        self.breaker = breaker or CircuitBreaker("redis", what="Redis")

    async def write(self, entry: AuditEntry) -> None:
        oldest = max(0, int(entry.ts * 1000) - self._retention_ms)
        async with self.breaker.guard():
            if self._max_entries is None:
                await self._redis.xadd(self.stream, entry.as_fields(), minid=oldest, approximate=True)
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self.stream, entry.as_fields(), minid=oldest, approximate=True)
                pipe.xtrim(self.stream, maxlen=self._max_entries, approximate=True)
                await pipe.execute()

    async def tail(self, count: int) -> list[AuditEntry]:
        """The newest ``count`` entries, oldest first."""
        rows = await self._redis.xrevrange(self.stream, count=count)
        return [AuditEntry.from_fields(fields) for _id, fields in reversed(rows)]


class FileAuditSink:
    """Entries appended to a JSON Lines file, flushed and fsynced one by one (in a worker thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = asyncio.Lock()

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    async def write(self, entry: AuditEntry) -> None:
        line = json.dumps(asdict(entry), ensure_ascii=False, sort_keys=True) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)


class Auditor:
    """Writes each entry to every sink; a failing sink is logged and counted, the request goes on."""

    def __init__(self, sinks: Sequence[AuditSink], on_error: Any = lambda _sink: None) -> None:
        self.sinks = tuple(sinks)
        self.on_error = on_error

    async def record(
        self,
        *,
        route: str,
        status: int,
        code: str | None,
        request_id: str | None,
        tenant: str | None,
        key_id: str | None,
        pii: Mapping[str, int],
    ) -> AuditEntry:
        decision, reason = decide(status, code, pii)
        entry = AuditEntry(time.time(), request_id, route, decision, reason, status, tenant, key_id, dict(pii))
        for sink in self.sinks:
            try:
                await sink.write(entry)
            except Exception as exc:  # noqa: BLE001 (any sink failure: log, count, go on)
                name = type(sink).__name__
                log.error("audit_write_failed", sink=name, error=type(exc).__name__)
                self.on_error(name)
        return entry
