"""RFC 9457 problem+json responses and the FastAPI exception handlers that produce them."""

from __future__ import annotations

import math
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from alice.errors import ServiceError
from alice.requestid import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://alice.local/problems/"

log = structlog.get_logger("alice.problem")

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "Invalid input"),
    429: ("rate_limited", "Too many requests"),
}


def problem_body(status: int, code: str, title: str, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    """The problem+json document Alice returns for every error."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": current_request_id(),
    }
    body.update(extra)
    return body


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    return JSONResponse(
        problem_body(status, code, title, detail, instance, **extra),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def service_error_response(exc: ServiceError, instance: str) -> JSONResponse:
    """Render a :class:`ServiceError` (with ``Retry-After`` when it has one)."""
    headers = dict(exc.headers)
    extra = dict(exc.extra)
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        extra["retry_after"] = exc.retry_after
    return problem_response(exc.status, exc.code, exc.title, exc.detail, instance, headers, **extra)


def validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    """A one-line detail ("message: Field required") and the list of every error, without the input."""
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        errors.append({"loc": loc or "body", "msg": str(err.get("msg", "invalid"))})
    first = errors[0] if errors else {"loc": "body", "msg": "invalid"}
    return f"{first['loc']}: {first['msg']}", errors


def install_problem_handlers(app: FastAPI) -> None:
    """Register handlers so every error leaves the service as problem+json, never a stack trace."""

    async def on_service_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)  # noqa: S101 - registered for ServiceError only
        return service_error_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        detail, errors = validation_detail(exc)
        return problem_response(422, "validation_failed", "Invalid input", detail, request.url.path, errors=errors)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        return problem_response(
            exc.status_code, code, title, str(exc.detail), request.url.path, dict(exc.headers or {})
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__, exc_info=exc)
        return problem_response(
            500, "internal_error", "Internal error", "An unexpected error occurred.", request.url.path
        )

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
