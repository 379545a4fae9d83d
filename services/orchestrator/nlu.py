"""The NLU port: intent, confidence and route hint for a message, over the NLU service's HTTP API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import numpy as np

from alice.breaker import CircuitBreaker, dependency_failure
from alice.errors import UpstreamError
from alice.httpclient import problem_error, transport_error

SERVICE = "nlu"
PARSE_PATH = "/api/nlu/parse"
#: The NLU reads at most this many characters; the intent of a longer message is read from its start.
MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class NluResult:
    """The part of the NLU's answer the orchestrator uses."""

    intent: str
    confidence: float
    route_hint: str | None = None
    entities: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    #: The sentence embedding (unit length) when it was asked for; the semantic cache searches with it.
    embedding: np.ndarray | None = field(default=None, compare=False)
    model_version: str | None = None
    #: The runners-up as (intent, probability), most likely first.
    alternatives: tuple[tuple[str, float], ...] = ()

    def probability(self, intent: str) -> float:
        """The NLU's probability of ``intent`` for this text (0 when it is not among the top labels)."""
        if intent == self.intent:
            return self.confidence
        return next((p for label, p in self.alternatives if label == intent), 0.0)


class Nlu(Protocol):
    """Anything that parses a message (the HTTP client below; a fake in unit tests)."""

    async def parse(self, text: str) -> NluResult: ...


def parse_result(body: Any) -> NluResult:
    """An :class:`NluResult` from the NLU's JSON; :class:`UpstreamError` when it has the wrong shape."""
    try:
        intent = body["intent"]
        hint = body.get("route_hint")
        version = body.get("model_version")
        return NluResult(
            intent=str(intent["label"]),
            confidence=float(intent["confidence"]),
            route_hint=str(hint) if hint is not None else None,
            entities=tuple(e for e in body.get("entities") or () if isinstance(e, dict)),
            embedding=_embedding(body.get("embedding")),
            model_version=str(version) if version else None,
            alternatives=tuple(
                (str(a["label"]), float(a["confidence"])) for a in body.get("alternatives") or () if isinstance(a, dict)
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UpstreamError("nlu answered with an unexpected body") from None


def _embedding(raw: Any) -> np.ndarray | None:
    """The embedding as a unit float32 vector; None when absent or not a finite, non-zero vector."""
    if raw is None:
        return None
    vector = np.asarray(raw, dtype=np.float32)
    norm = float(np.linalg.norm(vector)) if vector.ndim == 1 and vector.size else 0.0
    if not np.isfinite(norm) or norm == 0.0:
        return None
    return vector / norm


class HttpNlu:
    """The NLU service over the kernel's HTTP client (which forwards ``X-Request-ID``)."""

    def __init__(
        self, client: httpx.AsyncClient, include_embedding: bool = False, breaker: CircuitBreaker | None = None
    ) -> None:
        self._client = client
        #: While the NLU is down, parses fail at once (CircuitOpenError) instead of waiting on a connect timeout.
        self.breaker = breaker or CircuitBreaker(SERVICE, what="The NLU service", counts=dependency_failure)
        # The semantic cache reuses the NLU's vector; without it the ~7 KB of JSON are not worth sending.
        self._include_embedding = include_embedding

    async def parse(self, text: str) -> NluResult:
        """Parse ``text`` through the breaker; a typed :class:`alice.errors.ServiceError` on any failure."""
        async with self.breaker.guard():
            try:
                payload = {"text": text[:MAX_TEXT_CHARS], "include_embedding": self._include_embedding}
                response = await self._client.post(PARSE_PATH, json=payload)
            except httpx.HTTPError as exc:
                raise transport_error(exc, SERVICE) from None
            if response.status_code != 200:
                raise problem_error(response, SERVICE)
            try:
                body = response.json()
            except ValueError:
                raise UpstreamError("nlu answered with invalid JSON") from None
            return parse_result(body)

    async def model_version(self) -> str | None:
        """The NLU model's version (``GET /api/nlu/intents``), or None when it cannot be read."""
        try:
            response = await self._client.get("/api/nlu/intents")
            version = response.json().get("model_version") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return str(version) if version else None

    async def ping(self) -> bool:
        """Readiness: the NLU's ``/ready`` answers 200 (its model is loaded)."""
        response = await self._client.get("/ready")
        return response.status_code == 200
