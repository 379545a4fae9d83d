"""Pure-ASGI middleware: request id, one canonical log line per request, HTTP metrics.

Handlers add fields to the canonical line with ``structlog.contextvars.bind_contextvars(route=..., cache=...)``.
"""

from __future__ import annotations

import time

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alice.metrics import HttpMetrics
from alice.requestid import REQUEST_ID_HEADER, accept_request_id, reset_request_id, set_request_id
from alice.slo import LatencyWindows

log = structlog.get_logger("alice.access")

_QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})


def window_name(template: str) -> str:
    """What a request is filed under in the latency windows: ``cache`` for an answer from the cache, the chat
    route a handler bound (``tool``, ``micro``, ...), else the HTTP route template."""
    bound = structlog.contextvars.get_contextvars()
    if str(bound.get("cache", "")).startswith("hit"):
        return "cache"
    route = bound.get("route")
    return str(route) if route else template


class AccessMiddleware:
    """Binds ``request_id`` for the request, echoes it in the response, logs and counts the request."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, windows: LatencyWindows | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.windows = windows

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = accept_request_id(incoming)
        token = set_request_id(request_id)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        status = 500
        self.metrics.in_flight.labels(self.metrics.service).inc()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.in_flight.labels(self.metrics.service).dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, elapsed)
            path = scope.get("path", "")
            if path not in _QUIET_PATHS:
                name = window_name(template)
                self.metrics.answered(name, status, elapsed)
                if self.windows is not None:
                    self.windows.record(name, elapsed * 1000, status < 500)
                log.info(
                    "request",
                    method=scope["method"],
                    path=path,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.clear_contextvars()
            reset_request_id(token)
