"""The guardian's public routes: guard the request, forward it, relay the answer.

Handlers are thin: build a :class:`~guardian.policy.GuardRequest`, run the route's pipeline (reading the
body, bounded, between its two phases), open the orchestrator's answer and relay it. Server-sent events
are streamed chunk by chunk; anything else is read and passed through with its status and the headers in
:data:`guardian.upstream.RELAYED_HEADERS`. A stream that breaks after its headers went out ends with an
``event: error`` whose data is a problem document, since its status can no longer change.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import structlog
from fastapi import APIRouter, Depends, Request
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from alice.errors import ServiceError
from alice.problem import problem_body
from alice.requestid import current_request_id
from guardian.body import read_body
from guardian.gateway import Gateway
from guardian.policy import GuardRequest, Pipeline
from guardian.upstream import Upstream, is_event_stream, relayed_headers

log = structlog.get_logger("guardian.routes")

DASHBOARD = Path(__file__).resolve().parent / "static" / "dashboard.html"
#: The page talks to its own origin only; its script and style are inline (no CDN: Alice runs offline).
DASHBOARD_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["gateway"])


def get_gateway(request: Request) -> Gateway:
    """The gateway the lifespan built."""
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def _audit(gateway: Gateway, request: Request, guarded: GuardRequest, status: int, code: str | None) -> None:
    """One audit entry for this request's decision (never the body or the key)."""
    key = guarded.key
    await gateway.auditor.record(
        route=request.url.path,
        status=status,
        code=code,
        request_id=current_request_id(),
        tenant=key.tenant if key else None,
        key_id=key.id if key else None,
        pii=guarded.pii,
    )


def _guard_request(request: Request) -> GuardRequest:
    return GuardRequest(
        method=request.method, path=_target(request), headers={k.lower(): v for k, v in request.headers.items()}
    )


def _target(request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return request.url.path + (f"?{query}" if query else "")


async def _relay(upstream: Upstream, response: httpx.Response, instance: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx.HTTPError as exc:
        error = upstream.error_for(exc)
        log.warning("upstream_stream_broken", error_type=type(exc).__name__)
        problem = problem_body(error.status, error.code, error.title, error.detail, instance)
        yield f"event: error\ndata: {json.dumps(problem)}\n\n".encode()
    finally:
        await response.aclose()


class RelayResponse(StreamingResponse):
    """A streamed answer that always closes the orchestrator's response, however the stream ends.

    Starlette cancels the body iterator when the client disconnects (or raises ``ClientDisconnect``
    without running background tasks on ASGI 2.4 servers), so the close lives here, outside both.
    """

    def __init__(self, upstream: Upstream, response: httpx.Response, instance: str) -> None:
        super().__init__(
            _relay(upstream, response, instance),
            status_code=response.status_code,
            headers=relayed_headers(response),
        )
        self.upstream_response = response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.upstream_response.aclose()


async def _answer(upstream: Upstream, response: httpx.Response, instance: str) -> Response:
    if is_event_stream(response):
        return RelayResponse(upstream, response, instance)
    content = await upstream.read(response)
    return Response(content, status_code=response.status_code, headers=relayed_headers(response))


async def _guard_and_forward(
    request: Request, gateway: Gateway, pipeline: Pipeline, *, body_limit: int | None
) -> Response:
    """Admit, read the body (at most ``body_limit`` bytes; none when None), inspect, forward, relay."""
    guarded = _guard_request(request)
    try:
        await pipeline.admit(guarded)
        if body_limit is not None:
            guarded.body = await read_body(request.stream(), request.headers.get("content-length"), body_limit)
        await pipeline.inspect(guarded)
    except ServiceError as exc:
        exc.headers = {**guarded.response_headers, **exc.headers}  # a counted request keeps its RateLimit-*
        await _audit(gateway, request, guarded, exc.status, exc.code)
        raise
    except ClientDisconnect:
        await _audit(gateway, request, guarded, 499, "client_disconnected")
        raise
    except Exception:
        await _audit(gateway, request, guarded, 500, "internal_error")
        raise
    try:
        response = await gateway.upstream.open(guarded)
    except ServiceError as exc:  # allowed, but the orchestrator could not answer
        exc.headers = {**guarded.response_headers, **exc.headers}
        await _audit(gateway, request, guarded, exc.status, None)
        raise
    await _audit(gateway, request, guarded, response.status_code, None)
    answer = await _answer(gateway.upstream, response, request.url.path)
    answer.headers.update(guarded.response_headers)
    return answer


@router.get("/guardian/state", tags=["ops"])
async def load_state(request: Request) -> dict[str, Any]:
    """The load state (normal, brownout, emergency), the last CPU and memory sample, the thresholds, and the
    guardian's circuit breakers (its Redis)."""
    state: dict[str, Any] = request.app.state.load.view()
    breakers = getattr(request.app.state, "breakers", None)
    return {**state, "breakers": breakers.view() if breakers is not None else []}


@router.post("/api/chat", response_model=None)
async def chat(request: Request, gateway: GatewayDep) -> Response:
    """Authenticate, validate and forward a chat request; streams when the orchestrator streams."""
    return await _guard_and_forward(request, gateway, gateway.chat, body_limit=gateway.settings.max_body_bytes)


@router.get("/api/status", response_model=None)
async def status(request: Request, gateway: GatewayDep) -> Response:
    """Authenticate and forward the orchestrator's status (no NLU or LLM behind it)."""
    return await _guard_and_forward(request, gateway, gateway.status, body_limit=None)


@router.post("/api/feedback", response_model=None)
async def feedback(request: Request, gateway: GatewayDep) -> Response:
    """Authenticate (any role) and forward a rating of an earlier answer; the body must be a JSON object."""
    limit = gateway.settings.max_small_body_bytes
    return await _guard_and_forward(request, gateway, gateway.feedback, body_limit=limit)


@router.get("/api/monitoring/guardian", response_model=None)
async def monitoring_guardian(request: Request, gateway: GatewayDep) -> dict[str, Any]:
    """Admins only: this guardian's own view — its load state (brownout) and its circuit breakers (Redis)."""
    guarded = _guard_request(request)
    try:
        await gateway.monitoring.admit(guarded)
    except ServiceError as exc:
        await _audit(gateway, request, guarded, exc.status, exc.code)
        raise
    await _audit(gateway, request, guarded, 200, None)
    breakers = getattr(request.app.state, "breakers", None)
    return {"load": request.app.state.load.view(), "breakers": breakers.view() if breakers is not None else []}


@router.get("/dashboard", include_in_schema=False)
async def dashboard() -> Response:
    """The operators' page (static; it asks for an admin key and reads the monitoring routes with it)."""
    return Response(DASHBOARD.read_bytes(), media_type="text/html; charset=utf-8", headers=DASHBOARD_HEADERS)


@router.get("/api/monitoring/{name}", response_model=None)
async def monitoring(request: Request, gateway: GatewayDep) -> Response:
    """Admins only: forward a monitoring view (``cache``, ...); the orchestrator knows which names exist."""
    return await _guard_and_forward(request, gateway, gateway.monitoring, body_limit=None)


@router.get("/api/orchestrator/load-balancer", response_model=None)
async def load_balancer(request: Request, gateway: GatewayDep) -> Response:
    """Admins only: forward the orchestrator's φ load balancer view (weights, shares, breakers)."""
    return await _guard_and_forward(request, gateway, gateway.monitoring, body_limit=None)


@router.get("/api/scaling/recommendations", response_model=None)
async def scaling_recommendations(request: Request, gateway: GatewayDep) -> Response:
    """Admins only: forward the Fibonacci scaler's replica recommendations (``?window_s=`` passes through)."""
    return await _guard_and_forward(request, gateway, gateway.monitoring, body_limit=None)


@router.get("/api/drafts/{draft_id}", response_model=None)
async def drafts(request: Request, gateway: GatewayDep) -> Response:
    """Any key: forward a draft download (an .ics or .eml file a tool made for the caller's tenant)."""
    return await _guard_and_forward(request, gateway, gateway.drafts, body_limit=None)


@router.get("/api/memory", response_model=None)
@router.delete("/api/memory", response_model=None)
@router.get("/api/memory/sessions/{session_id}", response_model=None)
@router.delete("/api/memory/sessions/{session_id}", response_model=None)
async def memory(request: Request, gateway: GatewayDep) -> Response:
    """Any key: forward a look at, or the deletion of, the caller's own conversation memory."""
    return await _guard_and_forward(request, gateway, gateway.memory, body_limit=None)


@router.post("/api/cache/invalidate", response_model=None)
async def cache_invalidate(request: Request, gateway: GatewayDep) -> Response:
    """Admins only: forward a cache invalidation; the body must be a JSON object of filters."""
    limit = gateway.settings.max_small_body_bytes
    return await _guard_and_forward(request, gateway, gateway.cache_invalidate, body_limit=limit)


@router.post("/api/cache/flush", response_model=None)
async def cache_flush(request: Request, gateway: GatewayDep) -> Response:
    """Admins only: forward a cache flush; the body is empty or a JSON object."""
    limit = gateway.settings.max_small_body_bytes
    return await _guard_and_forward(request, gateway, gateway.cache_flush, body_limit=limit)
