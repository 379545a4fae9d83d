"""The orchestrator's HTTP routes: parse → call the chat service → respond. Nothing else lives here."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from alice import __version__
from alice.errors import DependencyDownError, NotFoundError, ServiceError
from alice.idempotency import HEADER, checked_key
from alice.problem import problem_body
from alice.signing import Claims
from orchestrator import sse
from orchestrator.chat import FORGET_INTENT, Caller, Event
from orchestrator.deps import ChatRequestDep, ChatServiceDep, ClaimsDep, IdempotencyDep, SettingsDep
from orchestrator.idempotency import REPLAYED_HEADER, IdempotencyStore, StoredAnswer, fingerprint, owner
from orchestrator.schemas import ChatRequest, ChatResponse, StatusResponse
from orchestrator.tools.drafts import DraftStoreError
from orchestrator.warming.telemetry import TelemetryRecorder

log = structlog.get_logger("orchestrator.api")

router = APIRouter()

_CHAT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ChatRequest.model_json_schema()}},
    }
}


def _caller(claims: Claims) -> Caller:
    return Caller(tenant=claims.tenant, user=claims.key_id, tools=claims.tools, brownout=claims.load == "brownout")


def _route_headers(route: str, intent: str | None, cache: dict[str, Any] | None = None) -> dict[str, str]:
    headers = {"X-Route": route, "X-Intent": intent or "none", "X-Cache": "miss"}
    if cache and cache.get("hit"):
        headers["X-Cache"] = "hit"
        headers["X-Cache-Kind"] = str(cache.get("kind"))
        headers["X-Cache-Tier"] = f"L{cache.get('tier')}"
    return headers


async def frame_events(events: AsyncIterator[Event], instance: str) -> AsyncIterator[bytes]:
    """SSE bytes for the chat events; a failure mid-stream becomes an ``error`` event with a problem body."""
    try:
        async for name, payload in events:
            yield sse.json_event(name, payload)
    except ServiceError as exc:
        yield sse.json_event("error", problem_body(exc.status, exc.code, exc.title, exc.detail, instance))
    except Exception as exc:  # noqa: BLE001 - the status line is sent; the client still gets a problem
        log.error("stream_failed", error_type=type(exc).__name__, exc_info=exc)
        body = problem_body(500, "internal_error", "Internal error", "An unexpected error occurred.", instance)
        yield sse.json_event("error", body)


@router.post("/api/chat", response_model=ChatResponse, openapi_extra=_CHAT_BODY, tags=["chat"])
async def chat(
    request: Request, claims: ClaimsDep, body: ChatRequestDep, service: ChatServiceDep, idempotency: IdempotencyDep
) -> Response:
    """Answer a message (server-sent events with ``"stream": true``); with an ``Idempotency-Key`` header a retry
    gets the first answer again (``orchestrator.idempotency``)."""
    structlog.contextvars.bind_contextvars(tenant=claims.tenant, stream=body.stream)
    raw_key = request.headers.get(HEADER)
    if raw_key is None:
        return await _answer(request, claims, body, service)
    key, body_print = checked_key(raw_key), fingerprint(await request.body())
    scope = owner(claims.tenant, claims.key_id)
    stored = await idempotency.begin(scope, key, body_print)
    if stored is not None:
        log.info("idempotent_replay", status=stored.status)
        headers = {**stored.headers, REPLAYED_HEADER: "true"}
        return Response(stored.body, status_code=stored.status, media_type=stored.media_type, headers=headers)
    try:
        response = await _answer(request, claims, body, service)
    except BaseException:
        await idempotency.release(scope, key)
        raise
    kept = {k: v for k, v in response.headers.items() if k.lower().startswith("x-") and k.lower() != "x-request-id"}
    if isinstance(response, StreamingResponse):
        response.body_iterator = _kept_stream(response.body_iterator, idempotency, (scope, key, body_print), kept)
        return response
    answer = StoredAnswer(response.status_code, response.media_type or "application/json", bytes(response.body), kept)
    await idempotency.finish(scope, key, body_print, answer)
    return response


async def _answer(request: Request, claims: Claims, body: ChatRequest, service: ChatServiceDep) -> Response:
    if body.stream:
        opened = await service.open_stream(body, _caller(claims))
        await _record(request, claims, body, opened.meta["route"], opened.meta["intent"], opened.meta.get("cache"))
        headers: dict[str, Any] = {
            **sse.HEADERS,
            **_route_headers(opened.meta["route"], opened.meta["intent"], opened.meta.get("cache")),
        }
        return StreamingResponse(
            frame_events(opened.events, request.url.path), media_type=sse.MEDIA_TYPE, headers=headers
        )
    answer = await service.answer(body, _caller(claims))
    body_json = answer.model_dump(mode="json")
    await _record(request, claims, body, answer.route, answer.intent, body_json["cache"])
    return JSONResponse(body_json, headers=_route_headers(answer.route, answer.intent, body_json["cache"]))


async def _record(
    request: Request, claims: Claims, body: ChatRequest, route: str, intent: str | None, cache: dict[str, Any] | None
) -> None:
    """Telemetry for predictive warming (``orchestrator.warming.telemetry``) when it is on; never fails a request.
    Without a session id the API key stands in for the session."""
    recorder: TelemetryRecorder | None = getattr(request.app.state, "telemetry", None)
    if recorder is not None and intent != FORGET_INTENT:  # a forget leaves no new trace
        # a session id is the client's: two keys may use the same one
        session = f"{claims.key_id}\x00{body.session_id}" if body.session_id else f"key:{claims.key_id}"
        hit = bool(cache and cache.get("hit"))
        await recorder.record(claims.tenant, session, intent, route, hit, body.message, user=claims.key_id)


async def _kept_stream(
    chunks: AsyncIterable[Any], store: IdempotencyStore, scope: tuple[str, str, str], headers: dict[str, str]
) -> AsyncIterator[bytes]:
    """The event stream as it goes out; at its end it is stored for the key (or the key freed, after an error
    event or when the stream did not finish)."""
    owner_prefix, key, body_print = scope
    sent: list[bytes] = []
    finished = False
    try:
        async for chunk in chunks:
            data = chunk if isinstance(chunk, bytes) else str(chunk).encode()
            sent.append(data)
            yield data
        finished = not any(part.startswith(b"event: error") for part in sent)
    finally:
        if finished:
            answer = StoredAnswer(200, sse.MEDIA_TYPE, b"".join(sent), {**sse.HEADERS, **headers})
            await store.finish(owner_prefix, key, body_print, answer)
        else:
            await store.release(owner_prefix, key)


@router.get("/api/drafts/{draft_id}", tags=["tools"], response_class=Response)
async def draft(draft_id: str, claims: ClaimsDep, request: Request) -> Response:
    """Download a draft a tool made (an .ics calendar event, an .eml e-mail) for the caller's tenant, within 24 h."""
    store = getattr(request.app.state, "drafts", None)
    if store is None:
        raise DependencyDownError("Drafts need Redis (REDIS_URL).", retry_after=60)
    try:
        found = await store.get(claims.tenant, draft_id)
    except DraftStoreError:
        raise DependencyDownError("The draft store is unavailable; try again shortly.", retry_after=2) from None
    if found is None:
        raise NotFoundError("No such draft for this tenant (drafts are kept 24 h).")
    disposition = f"attachment; filename*=UTF-8''{quote(found.filename)}"
    return Response(found.content, media_type=found.media_type, headers={"Content-Disposition": disposition})


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, claims: ClaimsDep) -> JSONResponse:
    """The OpenAPI schema, for signed callers only (every route but the ops ones needs the signature)."""
    return JSONResponse(request.app.openapi())


@router.get("/api/status", response_model=StatusResponse, tags=["ops"])
async def status(claims: ClaimsDep, settings: SettingsDep) -> StatusResponse:
    """Answer without the NLU or the LLM: what ``alice bench mesh`` measures per hop."""
    return StatusResponse(
        service="orchestrator",
        version=__version__,
        model=settings.model,
        time=datetime.now(UTC).isoformat(),
        tenant=claims.tenant,
    )
