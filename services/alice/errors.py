"""Alice's one exception tree. Every error a service raises on purpose is a :class:`ServiceError`.

::

    AliceError                      base of everything Alice raises on purpose
    ├── ConfigError                 bad settings; start-up stops with the message
    ├── ModelError                  model files: unknown name, failed download, checksum mismatch
    ├── ScalingError                a scaling backend (Kubernetes, Docker) unreachable or refusing a change
    └── ServiceError                maps to an RFC 9457 problem+json response (status, code, title)
        ├── BadRequestError         400 bad_request
        ├── UnauthenticatedError    401 unauthenticated
        ├── ForbiddenError          403 forbidden
        │   ├── PolicyDeniedError   403 policy_denied
        │   │   └── ToolDeniedError 403 tool_denied (the caller may not run that tool)
        │   └── SignatureError      403 invalid_signature (internal call not signed by the guardian)
        ├── NotFoundError           404 not_found
        ├── PayloadTooLargeError    413 payload_too_large
        ├── ValidationFailedError   422 validation_failed
        ├── RateLimitedError        429 rate_limited (Retry-After)
        ├── UpstreamError           502 upstream_error (a dependency answered wrongly)
        │   └── UpstreamHTTPError   502 carries the upstream's status and problem body
        ├── DependencyDownError     503 dependency_down (Retry-After)
        │   └── CircuitOpenError    503 circuit_open
        └── UpstreamTimeoutError    504 upstream_timeout

Handlers in :mod:`alice.problem` turn these into problem+json; nothing else reaches a client.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AliceError(Exception):
    """Base of every error Alice raises on purpose."""


class ConfigError(AliceError):
    """Settings that cannot work; raised at start-up with a message that names the setting."""


class ModelError(AliceError):
    """A model file could not be found, fetched or verified."""


class ScalingError(AliceError):
    """A scaling backend could not be reached, or could not carry out a change (``alice scale``)."""


class ServiceError(AliceError):
    """An error with an HTTP meaning; rendered as problem+json."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(self.detail)


class BadRequestError(ServiceError):
    status, code, title = 400, "bad_request", "Bad request"


class UnauthenticatedError(ServiceError):
    status, code, title = 401, "unauthenticated", "Authentication required"


class ForbiddenError(ServiceError):
    status, code, title = 403, "forbidden", "Forbidden"


class PolicyDeniedError(ForbiddenError):
    code, title = "policy_denied", "Denied by policy"


class ToolDeniedError(PolicyDeniedError):
    code, title = "tool_denied", "Tool not allowed for this caller"


class SignatureError(ForbiddenError):
    code, title = "invalid_signature", "Request not signed by the guardian"


class NotFoundError(ServiceError):
    status, code, title = 404, "not_found", "Not found"


class PayloadTooLargeError(ServiceError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class ValidationFailedError(ServiceError):
    status, code, title = 422, "validation_failed", "Invalid input"


class ConflictError(ServiceError):
    status, code, title = 409, "conflict", "Conflict"


class IdempotencyInProgressError(ConflictError):
    code, title = "idempotency_key_in_use", "A request with this Idempotency-Key is still running"


class IdempotencyKeyReusedError(ValidationFailedError):
    code, title = "idempotency_key_reused", "Idempotency-Key reused with a different request"


class RateLimitedError(ServiceError):
    status, code, title = 429, "rate_limited", "Too many requests"


class UpstreamError(ServiceError):
    status, code, title = 502, "upstream_error", "Upstream service failed"


class UpstreamHTTPError(UpstreamError):
    """An upstream answered with an error; keeps its status and parsed problem body."""

    def __init__(self, upstream_status: int, body: dict[str, Any] | None, detail: str | None = None) -> None:
        self.upstream_status = upstream_status
        self.body = body or {}
        super().__init__(detail or str(self.body.get("detail") or f"upstream answered {upstream_status}"))


class DependencyDownError(ServiceError):
    status, code, title = 503, "dependency_down", "A dependency is unavailable"


class CircuitOpenError(DependencyDownError):
    code, title = "circuit_open", "Circuit open"


class UpstreamTimeoutError(ServiceError):
    status, code, title = 504, "upstream_timeout", "Upstream timed out"


_BY_CODE: dict[str, type[ServiceError]] = {}


def _index(cls: type[ServiceError]) -> None:
    _BY_CODE.setdefault(cls.code, cls)
    for sub in cls.__subclasses__():
        _index(sub)


_index(ServiceError)


def error_from_problem(status: int, body: dict[str, Any]) -> ServiceError:
    """Rebuild a typed error from a downstream problem+json body (the inverse of the handlers)."""
    cls = _BY_CODE.get(str(body.get("code", "")))
    detail = str(body.get("detail") or "")
    retry = body.get("retry_after")
    if cls is None or cls.status != status:
        return UpstreamHTTPError(status, body, detail or None)
    return cls(detail or None, retry_after=float(retry) if retry is not None else None)
