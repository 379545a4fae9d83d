"""The NLU port: intent, confidence and route hint for a message, over the NLU service's HTTP API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

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


class Nlu(Protocol):
    """Anything that parses a message (the HTTP client below; a fake in unit tests)."""

    async def parse(self, text: str) -> NluResult: ...


def parse_result(body: Any) -> NluResult:
    """An :class:`NluResult` from the NLU's JSON; :class:`UpstreamError` when it has the wrong shape."""
    try:
        intent = body["intent"]
        hint = body.get("route_hint")
        return NluResult(
            intent=str(intent["label"]),
            confidence=float(intent["confidence"]),
            route_hint=str(hint) if hint is not None else None,
            entities=tuple(e for e in body.get("entities") or () if isinstance(e, dict)),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UpstreamError("nlu answered with an unexpected body") from None


class HttpNlu:
    """The NLU service over the kernel's HTTP client (which forwards ``X-Request-ID``)."""

    def __init__(self, client: httpx.AsyncClient, include_embedding: bool = False) -> None:
        self._client = client
        # No consumer of the embedding yet (the semantic cache will be one); skip the bytes until then.
        self._include_embedding = include_embedding

    async def parse(self, text: str) -> NluResult:
        """Parse ``text``; a typed :class:`alice.errors.ServiceError` on any failure."""
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

    async def ping(self) -> bool:
        """Readiness: the NLU's ``/ready`` answers 200 (its model is loaded)."""
        response = await self._client.get("/ready")
        return response.status_code == 200
