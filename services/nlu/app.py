"""The NLU service: ``uvicorn nlu.app:create_app --factory`` (port 9002).

The model is loaded (or trained, when no artifact matches the training data) in a worker thread after start-up,
so ``/health`` answers at once and ``/ready`` turns green when the model is in memory. Embedding and
classification run off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio.to_thread
import structlog
from fastapi import Depends, FastAPI, Request

from alice.errors import DependencyDownError, ValidationFailedError
from alice.service import add_readiness_check, create_service_app
from alice.settings import load_settings
from nlu.classifier import IntentModel
from nlu.embedder import create_embedder
from nlu.intents import INTENTS, route_hint
from nlu.metrics import NLUMetrics
from nlu.parsing import ParseBatch, ParseResult, parse_texts
from nlu.schemas import (
    BatchParseRequest,
    BatchParseResponse,
    Entity,
    IntentInfo,
    IntentScore,
    IntentsResponse,
    ParseRequest,
    ParseResponse,
    Timings,
)
from nlu.settings import NLUSettings
from nlu.training import load_or_train

log = structlog.get_logger("nlu.app")


def _load_model(settings: NLUSettings) -> IntentModel:
    embedder = create_embedder(settings.embedder, settings.embed_threads, settings.st_model, settings.model_resident)
    resident = getattr(embedder, "resident_bytes", 0)
    if settings.model_resident:
        log.info("nlu_model_resident", mb=round(resident / 2**20, 1), populated=resident > 0)
    return load_or_train(settings, embedder)


async def _load_in_background(app: FastAPI, settings: NLUSettings) -> None:
    try:
        model = await anyio.to_thread.run_sync(_load_model, settings, abandon_on_cancel=True)
    except Exception as exc:  # noqa: BLE001 - reported through /ready and the log
        app.state.model_error = f"{type(exc).__name__}: {exc}"
        log.error("nlu_model_failed", error_type=type(exc).__name__, error=str(exc))
        return
    app.state.model = model
    app.state.nlu_metrics.model_info.labels(model.version).set(1)
    log.info("nlu_model_ready", version=model.version, labels=len(model.artifact.labels))


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: NLUSettings = app.state.settings
    app.state.model = None
    app.state.model_error = None

    async def model_loaded() -> bool:
        return app.state.model is not None

    add_readiness_check(app, "model", model_loaded)
    task = asyncio.create_task(_load_in_background(app, settings))
    try:
        yield
    finally:
        task.cancel()


def get_model(request: Request) -> IntentModel:
    """The loaded model, or 503 while it is still loading (or failed to)."""
    model: IntentModel | None = request.app.state.model
    if model is None:
        detail = "NLU model failed to load" if request.app.state.model_error else "NLU model is still loading"
        raise DependencyDownError(detail, retry_after=2)
    return model


ModelDep = Annotated[IntentModel, Depends(get_model)]


def get_settings(request: Request) -> NLUSettings:
    settings: NLUSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[NLUSettings, Depends(get_settings)]


def _response(result: ParseResult, version: str, timings: Timings, with_embedding: bool) -> ParseResponse:
    prediction = result.prediction
    return ParseResponse(
        intent=IntentScore(label=prediction.label, confidence=prediction.confidence),
        alternatives=[IntentScore(label=lbl, confidence=p) for lbl, p in prediction.alternatives(3)],
        entities=[Entity(**e) for e in result.entities],
        route_hint=result.route_hint,
        embedding=result.embedding_list() if with_embedding else None,
        model_version=version,
        timings_ms=timings,
    )


def _timings(batch: ParseBatch) -> Timings:
    return Timings(embed=round(batch.embed_ms, 3), classify=round(batch.classify_ms, 3), total=round(batch.total_ms, 3))


async def _parse(request: Request, model: IntentModel, texts: list[str]) -> ParseBatch:
    batch = await anyio.to_thread.run_sync(parse_texts, model, texts)
    metrics: NLUMetrics = request.app.state.nlu_metrics
    pairs = [(r.prediction.label, r.route_hint) for r in batch.results]
    metrics.observe(pairs, batch.embed_ms, batch.classify_ms, batch.total_ms)
    structlog.contextvars.bind_contextvars(intents=[p[0] for p in pairs], model=model.version)
    return batch


def _register_routes(app: FastAPI) -> None:
    @app.post("/api/nlu/parse", response_model=ParseResponse, response_model_exclude_none=True, tags=["nlu"])
    async def parse(body: ParseRequest, request: Request, model: ModelDep, settings: SettingsDep) -> ParseResponse:
        """Intent, alternatives, entities, route hint and sentence embedding for one text."""
        batch = await _parse(request, model, [body.text])
        with_embedding = settings.include_embedding if body.include_embedding is None else body.include_embedding
        return _response(batch.results[0], model.version, _timings(batch), with_embedding)

    @app.post("/api/nlu/parse/batch", response_model=BatchParseResponse, response_model_exclude_none=True, tags=["nlu"])
    async def parse_batch(
        body: BatchParseRequest, request: Request, model: ModelDep, settings: SettingsDep
    ) -> BatchParseResponse:
        """Parse several texts in one embedding batch."""
        if len(body.texts) > settings.max_batch:
            raise ValidationFailedError(f"texts: at most {settings.max_batch} texts per batch")
        batch = await _parse(request, model, body.texts)
        timings = _timings(batch)
        with_embedding = settings.include_embedding if body.include_embedding is None else body.include_embedding
        results = [_response(r, model.version, timings, with_embedding) for r in batch.results]
        return BatchParseResponse(results=results, model_version=model.version, timings_ms=timings)

    @app.get("/api/nlu/intents", response_model=IntentsResponse, tags=["nlu"])
    async def intents(request: Request) -> IntentsResponse:
        """Alice's intent taxonomy, with the route hint of each and whether the loaded model knows it."""
        model: IntentModel | None = request.app.state.model
        trained = set(model.artifact.labels) if model else set()
        return IntentsResponse(
            intents=[
                IntentInfo(label=lbl, description=desc, route_hint=route_hint(lbl), trained=lbl in trained)
                for lbl, desc in INTENTS.items()
            ],
            model_version=model.version if model else None,
            min_confidence=model.artifact.min_confidence if model else None,
            min_margin=model.artifact.min_margin if model else None,
        )


def create_app(settings: NLUSettings | None = None) -> FastAPI:
    """The NLU app; settings from the environment (``NLU_*``) unless given."""
    settings = settings or load_settings(NLUSettings, "nlu")
    app = create_service_app(
        service="nlu", settings=settings, lifespan=_lifespan, description="Swedish intents and entities"
    )
    app.state.nlu_metrics = NLUMetrics(app.state.registry)
    _register_routes(app)
    return app
