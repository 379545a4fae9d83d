"""FastAPI dependencies of the orchestrator (``Annotated`` aliases with a ``Dep`` suffix).

:data:`ClaimsDep` is the signature gate: a route that takes it only runs for a request the guardian signed,
once. FastAPI caches a dependency per request, so the gate (and its nonce check) runs once even when several
dependencies need the claims. :data:`ChatRequestDep` parses the body *after* the gate, so an unsigned caller
learns nothing about the body's schema.
"""

from __future__ import annotations

from typing import Annotated, TypeVar, cast

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from alice.errors import DependencyDownError, ForbiddenError, PayloadTooLargeError
from alice.signing import Claims
from orchestrator.cache.answers import AnswerCache
from orchestrator.chat import ChatService
from orchestrator.gate import SignatureGate, signed_path
from orchestrator.idempotency import IdempotencyStore
from orchestrator.schemas import ChatRequest, FeedbackRequest, InvalidateRequest
from orchestrator.settings import OrchestratorSettings

M = TypeVar("M", bound=BaseModel)
#: Largest body of the small JSON routes (feedback, cache administration).
SMALL_BODY_BYTES = 16 * 1024

# A JSON \u escape spends 6 bytes on one character, so allow 6 bytes per character plus room for the other fields.
BODY_BYTES_PER_CHAR = 6
BODY_OVERHEAD_BYTES = 4096


def get_settings(request: Request) -> OrchestratorSettings:
    """The app's settings."""
    return cast(OrchestratorSettings, request.app.state.settings)


def get_chat_service(request: Request) -> ChatService:
    """The chat service the lifespan built."""
    return cast(ChatService, request.app.state.chat)


async def verified_claims(request: Request) -> Claims:
    """The guardian's claims for this request; 403 ``invalid_signature`` when unsigned, wrong or replayed."""
    gate = cast(SignatureGate, request.app.state.gate)
    body = await request.body()
    # Exactly what the guardian signs: the decoded path and the raw query string.
    path = signed_path(request.url.path, request.scope.get("query_string", b"").decode("latin-1"))
    return await gate.check(request.method, path, body, request.headers)


def get_idempotency(request: Request) -> IdempotencyStore:
    """The stored answers of ``Idempotency-Key`` requests."""
    return cast(IdempotencyStore, request.app.state.idempotency)


SettingsDep = Annotated[OrchestratorSettings, Depends(get_settings)]
IdempotencyDep = Annotated[IdempotencyStore, Depends(get_idempotency)]
ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]
ClaimsDep = Annotated[Claims, Depends(verified_claims)]


async def chat_request(request: Request, _claims: ClaimsDep, settings: SettingsDep) -> ChatRequest:
    """The validated :class:`ChatRequest` (422 problem+json when invalid, 413 when far too large)."""
    body = await request.body()
    if len(body) > settings.max_message_chars * BODY_BYTES_PER_CHAR + BODY_OVERHEAD_BYTES:
        raise PayloadTooLargeError(f"Request body of {len(body)} bytes is too large.")
    try:
        return ChatRequest.model_validate_json(body, context={"max_message_chars": settings.max_message_chars})
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


ChatRequestDep = Annotated[ChatRequest, Depends(chat_request)]


def _parse(model: type[M], body: bytes) -> M:
    """``model`` from a small JSON body (413 when large, 422 problem+json when invalid)."""
    if len(body) > SMALL_BODY_BYTES:
        raise PayloadTooLargeError(f"Request body of {len(body)} bytes is too large.")
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


async def feedback_request(request: Request, _claims: ClaimsDep) -> FeedbackRequest:
    """The validated feedback body (parsed after the signature gate)."""
    return _parse(FeedbackRequest, await request.body())


async def invalidate_request(request: Request, _claims: ClaimsDep) -> InvalidateRequest:
    """The validated invalidation body (parsed after the signature gate)."""
    return _parse(InvalidateRequest, await request.body())


def admin_claims(claims: ClaimsDep) -> Claims:
    """The claims of an admin caller; 403 ``forbidden`` for anyone else."""
    if claims.role != "admin":
        raise ForbiddenError("This route needs the admin role.")
    return claims


def get_cache(request: Request) -> AnswerCache:
    """The answer cache; 503 when it is not configured (no REDIS_URL, or ORCHESTRATOR_CACHE_ENABLED=false)."""
    cache = cast(ChatService, request.app.state.chat).cache
    if cache is None:
        raise DependencyDownError("The answer cache is not configured (it needs REDIS_URL).", retry_after=60)
    return cache


FeedbackRequestDep = Annotated[FeedbackRequest, Depends(feedback_request)]
InvalidateRequestDep = Annotated[InvalidateRequest, Depends(invalidate_request)]
AdminDep = Annotated[Claims, Depends(admin_claims)]
CacheDep = Annotated[AnswerCache, Depends(get_cache)]
