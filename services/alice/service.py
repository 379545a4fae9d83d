"""Common shape of every Alice service: logging, request ids, problem+json, ``/health``, ``/ready``, ``/metrics``.

A service's ``create_app`` calls :func:`create_service_app` with its lifespan. The lifespan registers
readiness checks with :func:`add_readiness_check`; ``/ready`` runs them all.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from alice import __version__
from alice.access import AccessMiddleware
from alice.errors import ConfigError
from alice.fibonacci import load_fibonacci_config
from alice.logs import configure_logging
from alice.metrics import HttpMetrics, new_registry
from alice.problem import install_problem_handlers, problem_response
from alice.settings import ServiceSettings
from alice.slo import LatencyWindows

ReadinessCheck = Callable[[], Awaitable[Any]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

READY_TIMEOUT_S = 3.0


def add_readiness_check(app: FastAPI, name: str, check: ReadinessCheck, *, required: bool = True) -> None:
    """Register a dependency check for ``/ready``; it fails by raising (or returning False).

    A failing ``required=False`` check leaves the service ready but ``degraded`` (it can still serve part of
    its traffic, e.g. the orchestrator's tool routes without the LLM); ``/ready`` names it in ``checks``.
    """
    app.state.readiness[name] = check
    if not required:
        app.state.optional_checks.add(name)


async def _run_check(check: ReadinessCheck) -> str | None:
    try:
        result = await asyncio.wait_for(check(), READY_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return type(exc).__name__
    return "returned false" if result is False else None


def create_service_app(
    *, service: str, settings: ServiceSettings, lifespan: Lifespan, description: str = ""
) -> FastAPI:
    """A FastAPI app with Alice's middleware, error handlers and operational endpoints."""
    configure_logging(service, settings.log_format, settings.log_level)
    try:
        fibonacci = load_fibonacci_config()
    except ConfigError as exc:
        print(f"alice-{service}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    app = FastAPI(title=f"alice-{service}", version=__version__, description=description, lifespan=lifespan)
    registry = new_registry()
    metrics = HttpMetrics(service, registry)
    app.state.service = service
    app.state.settings = settings
    app.state.registry = registry
    app.state.http_metrics = metrics
    app.state.readiness = {}
    app.state.optional_checks = set()
    app.state.fibonacci = fibonacci
    install_problem_handlers(app)
    app.state.latency_windows = LatencyWindows()
    app.add_middleware(AccessMiddleware, metrics=metrics, windows=app.state.latency_windows)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok", "service": service, "version": __version__}

    @app.get("/ready", tags=["ops"], response_model=None)
    async def ready(request: Request) -> JSONResponse:
        """Ready: every registered dependency answers."""
        checks: dict[str, ReadinessCheck] = dict(request.app.state.readiness)
        names = list(checks)
        results = await asyncio.gather(*(_run_check(checks[n]) for n in names))
        failed = {n: r for n, r in zip(names, results, strict=True) if r is not None}
        states = {n: ("fail" if n in failed else "ok") for n in names}
        failing = {n: r for n, r in failed.items() if n not in request.app.state.optional_checks}
        metrics.ready.labels(service).set(0 if failing else 1)
        if failing:
            detail = "Not ready: " + ", ".join(f"{n} ({r})" for n, r in failing.items())
            return problem_response(
                503,
                "not_ready",
                "Service not ready",
                detail,
                request.url.path,
                {"Retry-After": "1"},
                checks=states,
            )
        status = "degraded" if failed else "ready"
        return JSONResponse({"status": status, "service": service, "checks": states})

    @app.get("/metrics", tags=["ops"], response_model=None)
    async def metrics_endpoint() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
