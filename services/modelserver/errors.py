"""The modelserver's errors and the handlers that make every error body both problem+json and Ollama-shaped.

Ollama answers errors with ``{"error": "..."}``; the official client raises ``ResponseError`` with that text
and the HTTP status. Alice answers with RFC 9457 problem+json. The handlers here do both: the kernel's
problem body plus an ``error`` member holding the detail, e.g. 404 ``{"error": "model 'x' not found", ...}``.

::

    ServiceError (kernel)
    ├── NotFoundError
    │   └── ModelNotFoundError      404 model_not_found    (unknown or not loaded model)
    ├── BadRequestError             400 bad_request        (capability the model lacks, bad format)
    ├── GenerationFailedError       500 generation_failed  (llama.cpp failed mid-generation)
    └── DependencyDownError
        ├── ModelBusyError          503 model_busy         (queue full; Retry-After)
        ├── ModelLoadingError       503 model_loading      (still loading; Retry-After)
        └── ModelUnavailableError   503 model_unavailable  (failed to load: checksum, file)
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from alice.errors import DependencyDownError, NotFoundError, ServiceError
from alice.problem import problem_response, service_error_response, validation_detail

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


class ModelNotFoundError(NotFoundError):
    code, title = "model_not_found", "Model not found"

    def __init__(self, name: str, hint: str = "") -> None:
        super().__init__(f"model '{name}' not found" + (f"; {hint}" if hint else ""))


class GenerationFailedError(ServiceError):
    status, code, title = 500, "generation_failed", "Generation failed"


class ModelBusyError(DependencyDownError):
    code, title = "model_busy", "Model queue full"


class ModelLoadingError(DependencyDownError):
    code, title = "model_loading", "Model still loading"


class ModelUnavailableError(DependencyDownError):
    code, title = "model_unavailable", "Model failed to load"


def install_ollama_error_handlers(app: FastAPI) -> None:
    """Replace the kernel's handlers with ones that add Ollama's ``error`` member to the problem body."""

    async def on_service_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)  # noqa: S101 - registered for ServiceError only
        exc.extra.setdefault("error", exc.detail)
        return service_error_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        detail, errors = validation_detail(exc)
        return problem_response(
            422, "validation_failed", "Invalid input", detail, request.url.path, errors=errors, error=detail
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = str(exc.detail)
        headers = dict(exc.headers or {})
        return problem_response(exc.status_code, code, detail, detail, request.url.path, headers, error=detail)

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
