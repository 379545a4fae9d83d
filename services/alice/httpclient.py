"""The one factory for inter-service HTTP clients, and the parsing of downstream problem+json errors.

Clients forward the current request id on every call. The transport is httpx today; ``alice bench mesh``
measures what each hop costs so the choice stays a measured one (DESIGN §2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import httpx
from httpx_aiohttp import AiohttpTransport

from alice.errors import (
    DependencyDownError,
    ServiceError,
    UpstreamError,
    UpstreamTimeoutError,
    error_from_problem,
)
from alice.requestid import REQUEST_ID_HEADER, current_request_id


async def forward_request_id(request: httpx.Request) -> None:
    """httpx request hook: send the current request id downstream (use it on any client, e.g. ollama's)."""
    rid = current_request_id()
    if rid and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = rid


def create_http_client(
    base_url: str,
    *,
    timeout_s: float = 10.0,
    connect_timeout_s: float = 2.0,
    max_connections: int = 100,
    headers: dict[str, str] | None = None,
    transport: Literal["httpx", "aiohttp"] = "httpx",
    wrap_transport: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
) -> httpx.AsyncClient:
    """A long-lived async client for one downstream service (create in the lifespan, close there).

    ``transport="aiohttp"`` keeps httpx's API (timeouts, hooks, streaming) over an aiohttp connection pool
    (``httpx-aiohttp``), which costs far less per request on this kind of machine: ``alice bench mesh``
    measures both in one run. ``wrap_transport`` wraps the transport (the scaler's meter times calls there).
    """
    # Expire idle connections before uvicorn's 5 s keep-alive closes them, so a request never races a close.
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=4.0
    )
    chosen: httpx.AsyncBaseTransport | None = (
        AiohttpTransport(limits=limits, trust_env=False) if transport == "aiohttp" else None
    )
    if wrap_transport is not None:
        chosen = wrap_transport(chosen or httpx.AsyncHTTPTransport(limits=limits))
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        limits=limits,
        headers=headers,
        event_hooks={"request": [forward_request_id]},
        transport=chosen,
    )


def problem_error(response: httpx.Response, service: str) -> ServiceError:
    """A typed error for a downstream error response (problem+json parsed when present)."""
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        body = {}
    if response.status_code >= 500 and not body.get("code"):
        return UpstreamError(f"{service} answered {response.status_code}")
    return error_from_problem(response.status_code, body)


#: Failures where nothing reached the service: it is down or restarting, so 503 + Retry-After.
CONNECT_FAILURES: tuple[type[httpx.HTTPError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def transport_error(exc: httpx.HTTPError, service: str, retry_after_s: float = 2.0) -> ServiceError:
    """A typed error for a transport failure talking to ``service``, without internal detail.

    Could not connect → 503 (Retry-After); connected but no answer in time → 504; an answer that could not be
    read (dropped mid-response, protocol error) → 502.
    """
    if isinstance(exc, CONNECT_FAILURES):
        return DependencyDownError(f"{service} is unreachable.", retry_after=retry_after_s)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeoutError(f"{service} did not answer in time.")
    return UpstreamError(f"{service}'s answer could not be read.")
