"""Forwarding to the orchestrator: signing, sending, and what each failure becomes.

The guardian keeps one long-lived ``httpx.AsyncClient`` (from :func:`alice.httpclient.create_http_client`,
which also forwards ``X-Request-ID``). Every forwarded request carries the same path (with query) and body
the client sent, and the HMAC headers of :func:`alice.signing.sign_request` over them and the caller's
claims. The caller's API key is never forwarded.

What a failure becomes (DESIGN §6)::

    could not connect (refused, connect timeout, pool exhausted)  503 dependency_down + Retry-After
    connected, but no answer within upstream_timeout_s            504 upstream_timeout
    an answer that cannot be relayed (dropped mid-response,       502 upstream_error
      protocol error), or a 5xx that is not problem+json
    the orchestrator's own problem+json, any status               passed through unchanged (status, body,
                                                                  Retry-After), so its 503 reaches the client

Connect failures are 503 and not 502 because nothing was answered: the orchestrator is down or restarting
and the client should retry after a moment, which is exactly what 503 + Retry-After says. Once a stream's
headers have gone out its status cannot change; see ``guardian.routes`` for how a broken stream ends.

No FastAPI here.
"""

from __future__ import annotations

import time

import httpx
import structlog

from alice.errors import ServiceError, UpstreamError
from alice.httpclient import CONNECT_FAILURES, transport_error
from alice.idempotency import HEADER as IDEMPOTENCY_HEADER
from alice.idempotency import checked_key
from alice.signing import sign_request
from guardian.metrics import GuardianMetrics
from guardian.policy import GuardRequest

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: The client's headers the orchestrator gets (besides the signature's): what it answers in, and the key that
#: makes a retry safe.
FORWARDED_HEADERS = ("Accept", "Idempotency-Key")
RELAYED_HEADERS = (
    "content-type",
    "content-disposition",
    "cache-control",
    "x-route",
    "x-intent",
    "x-cache",
    "x-cache-kind",
    "x-cache-tier",
    "retry-after",
    "idempotent-replayed",
)


def outcome_label(exc: httpx.HTTPError) -> str:
    """The metric label for a forward that got no status back."""
    if isinstance(exc, CONNECT_FAILURES):
        return "connect_error"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    return "protocol_error"


def is_event_stream(response: httpx.Response) -> bool:
    """True when the orchestrator answers with server-sent events."""
    return response.headers.get("content-type", "").split(";")[0].strip().lower() == "text/event-stream"


def is_problem(response: httpx.Response) -> bool:
    """True when the body is an RFC 9457 problem document."""
    return response.headers.get("content-type", "").split(";")[0].strip().lower() == PROBLEM_MEDIA_TYPE


def relayed_headers(response: httpx.Response) -> dict[str, str]:
    """The orchestrator's headers the client gets to see (X-Request-ID is set by the access middleware)."""
    return {name: response.headers[name] for name in RELAYED_HEADERS if name in response.headers}


class Upstream:
    """The orchestrator, as the guardian sees it."""

    def __init__(
        self, client: httpx.AsyncClient, secret: bytes, metrics: GuardianMetrics, retry_after_s: float
    ) -> None:
        self.client = client
        self.secret = secret
        self.metrics = metrics
        self.retry_after_s = retry_after_s

    def error_for(self, exc: httpx.HTTPError) -> ServiceError:
        """The typed error a transport failure becomes (see the module docstring)."""
        return transport_error(exc, "The orchestrator", self.retry_after_s)

    def _headers(self, request: GuardRequest) -> dict[str, str]:
        headers = sign_request(self.secret, request.method, request.path, request.body, request.claims())
        if request.body:
            headers["Content-Type"] = "application/json"
        for name in FORWARDED_HEADERS:
            value = request.headers.get(name.lower())
            if name == IDEMPOTENCY_HEADER and value is not None:
                headers[name] = checked_key(value)  # 422 here, before a malformed key reaches the orchestrator
            elif value and value.isascii():
                headers[name] = value
        return headers

    async def open(self, request: GuardRequest) -> httpx.Response:
        """Send ``request``; the answer comes back unread (the caller reads or relays it, then closes it)."""
        path = request.path.split("?", 1)[0]
        outgoing = self.client.build_request(
            request.method, request.path, content=request.body or None, headers=self._headers(request)
        )
        start = time.perf_counter()
        try:
            response = await self.client.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            self.metrics.forwarded_request(path, outcome_label(exc), None)
            structlog.contextvars.bind_contextvars(upstream_error=outcome_label(exc))
            raise self.error_for(exc) from None
        self.metrics.forwarded_request(path, response.status_code, time.perf_counter() - start)
        found = {k: response.headers.get(f"x-{k}") for k in ("route", "cache")}
        structlog.contextvars.bind_contextvars(
            upstream_status=response.status_code, **{k: v for k, v in found.items() if v}
        )
        return response

    async def read(self, response: httpx.Response) -> bytes:
        """The whole (non-streamed) answer; closes the response. A bare 5xx becomes a 502."""
        try:
            body = await response.aread()
        except httpx.HTTPError as exc:
            raise self.error_for(exc) from None
        finally:
            await response.aclose()
        if response.status_code >= 500 and not is_problem(response):
            raise UpstreamError(f"The orchestrator answered {response.status_code}.")
        return body

    async def health(self) -> None:
        """Readiness: the orchestrator's ``/health`` answers 200 (raises otherwise)."""
        response = await self.client.get("/health")
        response.raise_for_status()
