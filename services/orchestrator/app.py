"""The orchestrator's composition root: ``uvicorn orchestrator.app:create_app --factory``.

The lifespan owns the long-lived clients (one httpx client for the NLU, one ``ollama.AsyncClient``, one Redis
client when ``REDIS_URL`` is set), builds the domain objects on ``app.state`` and registers ``/ready`` checks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import ollama
import structlog
from fastapi import FastAPI
from redis.asyncio import Redis

from alice.breaker import Breakers, CircuitBreaker, SharedState, dependency_failure, in_background, start_probe
from alice.fibonacci import config as fibonacci_config
from alice.fibonacci import phi_weights
from alice.httpclient import create_http_client, forward_request_id
from alice.metrics import BreakerMetrics
from alice.service import add_readiness_check, create_service_app
from alice.settings import load_settings
from alice.signing import MemoryNonceStore, NonceStore
from orchestrator import api, cacheapi, memoryapi, opsapi, scalingapi
from orchestrator.balancer import Backend, BalancedLlm
from orchestrator.cache.answers import AnswerCache, CacheConfig, cache_breaker
from orchestrator.cache.keys import KeyContext
from orchestrator.cache.semantic import SemanticMatcher
from orchestrator.cache.store import CacheStore
from orchestrator.cache.tiers import TierPolicy, parse_intent_rules
from orchestrator.chat import ChatService, Generation
from orchestrator.conversation import ConversationStore
from orchestrator.fallback_nlu import fallback_parse
from orchestrator.forget import Forgetter
from orchestrator.gate import RedisNonceStore, SignatureGate, nonce_breaker
from orchestrator.idempotency import IdempotencyStore
from orchestrator.llm import Llm, OllamaLlm, llm_breaker
from orchestrator.metrics import CacheMetrics, ChatMetrics
from orchestrator.nlu import HttpNlu
from orchestrator.prompts import prompt_version
from orchestrator.recall import Recaller
from orchestrator.routewindow import RouteWindow
from orchestrator.scaling.advisor import ScalingMeters, scaling_advisor
from orchestrator.settings import OrchestratorSettings
from orchestrator.toolflow import ToolMetrics, ToolRunner
from orchestrator.tools.base import Tool
from orchestrator.tools.calculator import CalculateTool
from orchestrator.tools.clock import DateTodayTool, TimeNowTool
from orchestrator.tools.drafts import CalendarDraftTool, EmailDraftTool, RedisDraftStore
from orchestrator.tools.memory import memory_tools
from orchestrator.tools.registry import ToolRegistry
from orchestrator.tools.timers import timer_tools
from orchestrator.tools.weather import WeatherTool, create_weather_client
from orchestrator.warming.wiring import start_warming

log = structlog.get_logger("orchestrator.app")

LLM_CONNECT_TIMEOUT_S = 3.0
REDIS_TIMEOUT_S = 2.0
# FastAPI's own documentation routes; the orchestrator serves its schema only to signed callers (api.py).
_UNSIGNED_DOC_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


def _ollama_client(
    settings: OrchestratorSettings, host: str, transport: httpx.AsyncBaseTransport | None = None
) -> ollama.AsyncClient:
    """An Ollama client for ``host``; it forwards the request id too, so the modelserver's log lines carry it."""
    timeout = httpx.Timeout(settings.llm_timeout_s, connect=min(LLM_CONNECT_TIMEOUT_S, settings.llm_timeout_s))
    hooks = {"request": [forward_request_id]}
    return ollama.AsyncClient(host=host, timeout=timeout, event_hooks=hooks, transport=transport)


async def _llms(app: FastAPI, settings: OrchestratorSettings, stack: AsyncExitStack) -> tuple[Llm, dict[str, Llm]]:
    """The LLM for the main model and those for other route models: one Ollama-API server (``OLLAMA_HOST``), or
    several (``ORCHESTRATOR_LLM_BACKENDS``) behind the φ load balancer; every server has its own breaker, closed
    again by a health check (its model list) once the server answers."""
    hosts = settings.llm_hosts()
    servers: list[tuple[str, ollama.AsyncClient, CircuitBreaker]] = []
    for i, host in enumerate(hosts):
        client = _ollama_client(settings, host, app.state.scaling_meters.llm_transport())  # timed for the scaler
        stack.push_async_callback(client.close)
        breaker = app.state.breakers.add(llm_breaker("llm" if len(hosts) == 1 else f"llm-{i + 1}"))
        start_probe(stack, breaker, client.list)
        servers.append((host, client, breaker))
    fib = fibonacci_config()
    weights = phi_weights(len(hosts), fib) if fib.enable_phi_load_balancer else [1.0] * len(hosts)

    def for_model(model: str) -> Llm:
        adapters = [
            OllamaLlm(
                client,
                model,
                settings.llm_timeout_s,
                settings.llm_retry_after_s,
                settings.repeat_penalty,
                breaker=breaker,
            )
            for _, client, breaker in servers
        ]
        if len(adapters) == 1:
            return adapters[0]
        backends = [Backend(host, a, w) for (host, _, _), a, w in zip(servers, adapters, weights, strict=True)]
        return BalancedLlm(backends, model)

    llm = for_model(settings.model)
    route_llms = {
        route: for_model(name)
        for route, name in (("micro", settings.micro_model), ("deep", settings.deep_model))
        if name and name != settings.model
    }
    app.state.balancers = [m for m in (llm, *route_llms.values()) if isinstance(m, BalancedLlm)]
    return llm, route_llms


def _redis(settings: OrchestratorSettings, stack: AsyncExitStack) -> Redis | None:
    """The one Redis client for nonces, drafts, timers, memories and the route window (the cache has its own,
    with shorter timeouts); None without ``REDIS_URL``."""
    if settings.redis_url is None:
        return None
    redis = Redis.from_url(settings.redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
    stack.push_async_callback(redis.aclose)
    return redis


def _nonce_store(app: FastAPI, redis: Redis | None) -> NonceStore:
    """Redis when configured (shared by replicas, survives restarts); else a per-process store, loudly."""
    if redis is None:
        log.warning(
            "nonce_store_in_process",
            detail="REDIS_URL is not set: replay protection is per process and forgotten on restart. "
            "Set REDIS_URL in production.",
        )
        return MemoryNonceStore()
    # Optional: without Redis the nonce store degrades to per process (see RedisNonceStore) and requests are
    # still answered, so a Redis outage leaves the orchestrator ready but "degraded".
    add_readiness_check(app, "redis", redis.ping, required=False)
    return RedisNonceStore(redis, breaker=app.state.breakers.add(nonce_breaker()))


async def _answer_cache(
    app: FastAPI, settings: OrchestratorSettings, nlu: HttpNlu, stack: AsyncExitStack
) -> AnswerCache | None:
    """The answer cache over its own Redis client (short timeouts: a slow Redis is bypassed, not waited for)."""
    if not settings.cache_enabled:
        log.info("cache_disabled", reason="ORCHESTRATOR_CACHE_ENABLED=false")
        return None
    if settings.redis_url is None:
        log.warning("cache_disabled", reason="REDIS_URL is not set: answers are not cached. Set REDIS_URL.")
        return None
    timeout = settings.cache_redis_timeout_s
    redis = Redis.from_url(settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    stack.push_async_callback(redis.aclose)
    fib = fibonacci_config()
    config = CacheConfig(
        tiers=TierPolicy.from_hours(fib.fib_cache_ttls_h),
        rules=parse_intent_rules(settings.cache_never_intents, settings.cache_volatile_intents),
        max_entries=settings.cache_max_entries,
        negative_ttl_s=settings.cache_negative_ttl_s,
        resync_s=settings.cache_index_resync_s,
        spiral_points=fib.fib_spiral_points,
        spiral_dimensions=fib.fib_spiral_dimensions,
        spiral_probes=settings.cache_spiral_probes,
        spiral_exact_below=settings.cache_spiral_exact_below,
        semantic=settings.cache_semantic,
    )
    context = KeyContext(
        model=settings.model,
        prompt_version=prompt_version(),
        policy_version=settings.cache_policy_version,
        nlu_version=await nlu.model_version() or "unknown",
    )
    matcher = SemanticMatcher(threshold=settings.cache_threshold)
    store = CacheStore(
        redis, settings.cache_max_entries, settings.cache_feedback_window_s, settings.cache_feedback_max_links
    )
    cache = AnswerCache(store, config, context, matcher, breaker=app.state.breakers.add(cache_breaker()))
    stack.push_async_callback(cache.aclose)  # before its Redis client closes
    return cache


def _tool_runner(
    app: FastAPI, settings: OrchestratorSettings, redis: Redis | None, stack: AsyncExitStack
) -> ToolRunner:
    """The tools, with their clients: Open-Meteo over its own httpx client; drafts, timers and memories in Redis.
    Without Redis the Redis-backed tools are left out (their intents go to the LLM)."""
    weather_client = create_weather_client()
    stack.push_async_callback(weather_client.aclose)
    tools: list[Tool] = [
        TimeNowTool(),
        DateTodayTool(),
        CalculateTool(),
        WeatherTool(
            weather_client,
            geocoding_url=settings.weather_geocoding_url,
            forecast_url=settings.weather_forecast_url,
            breaker=app.state.breakers.add(CircuitBreaker("weather", what="The weather service")),
        ),
    ]
    app.state.drafts = None
    app.state.memory_bank = None
    if redis is not None:
        drafts = RedisDraftStore(redis)
        app.state.drafts = drafts
        remember, recall = memory_tools(redis)
        app.state.memory_bank = recall.bank
        tools += [CalendarDraftTool(drafts), EmailDraftTool(drafts), *timer_tools(redis), remember, recall]
    return ToolRunner(ToolRegistry(tools), ToolMetrics(app.state.registry))


def _memory(
    app: FastAPI, settings: OrchestratorSettings, redis: Redis | None, metrics: ChatMetrics
) -> tuple[Recaller | None, Forgetter | None]:
    """The conversation memory tiers and the forgetter (None without Redis or with ORCHESTRATOR_MEMORY_ENABLED off).
    Call after :func:`_tool_runner` (the long-term tier is the memory tools' bank)."""
    bank = app.state.memory_bank
    if redis is None or bank is None or not settings.memory_enabled:
        app.state.forgetter = None
        return None, None
    conversations = ConversationStore(redis, settings.session_ttl_s)
    recaller = Recaller(
        conversations,
        bank,
        window=settings.working_memory_turns,
        steps=tuple(fibonacci_config().fib_rag_topk_steps),
    )
    app.state.forgetter = Forgetter(
        redis, conversations, bank, on_forget=lambda scope: metrics.forgets.labels(scope).inc()
    )
    return recaller, app.state.forgetter


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the clients, wire the domain objects, close everything on shutdown."""
    settings: OrchestratorSettings = app.state.settings
    app.state.breakers = Breakers(app.state.breaker_metrics)
    meters = app.state.scaling_meters = ScalingMeters()
    async with AsyncExitStack() as stack:
        nlu_client = create_http_client(
            settings.nlu_url,
            timeout_s=settings.nlu_timeout_s,
            connect_timeout_s=settings.nlu_timeout_s,
            transport=settings.http_transport,
            wrap_transport=meters.nlu_transport,
        )
        stack.push_async_callback(nlu_client.aclose)
        redis = _redis(settings, stack)
        nonces = _nonce_store(app, redis)
        app.state.idempotency = IdempotencyStore(redis, settings.idempotency_ttl_s)
        nlu = HttpNlu(
            nlu_client,
            include_embedding=settings.cache_enabled and settings.cache_semantic,
            breaker=app.state.breakers.add(CircuitBreaker("nlu", what="The NLU service", counts=dependency_failure)),
        )
        llm, route_llms = await _llms(app, settings, stack)
        generation = Generation(
            settings.num_predict_micro, settings.num_predict_deep, settings.temperature, settings.num_predict_planner
        )
        app.state.gate = SignatureGate(
            settings.internal_secret.get_secret_value().encode(), nonces, settings.signature_max_skew_s
        )
        cache = await _answer_cache(app, settings, nlu, stack)
        tools = _tool_runner(app, settings, redis, stack)
        chat_metrics = ChatMetrics(app.state.registry)
        recaller, forgetter = _memory(app, settings, redis, chat_metrics)
        app.state.chat = ChatService(
            nlu,
            llm,
            chat_metrics,
            generation,
            cache=cache,
            cache_metrics=CacheMetrics(app.state.registry),
            tools=tools,
            window=RouteWindow(redis, settings.route_window, settings.micro_max_share),
            planner_calls=tuple(fibonacci_config().fib_router_max_tool_calls),
            route_llms=route_llms,
            nlu_fallback=fallback_parse if settings.nlu_fallback else None,
            recaller=recaller,
            forgetter=forgetter,
        )
        app.state.telemetry = start_warming(settings, app.state.chat, app.state.registry, app.state.breakers, stack)
        if forgetter is not None and app.state.telemetry is not None:  # forgetting a user reaches their telemetry
            forgetter.extra = (*forgetter.extra, ("telemetry", app.state.telemetry.forget))
        # a dependency that is back closes its breaker within ~2 s, not after an open time and user traffic
        start_probe(stack, nlu.breaker, nlu.ping)
        if cache is not None:
            start_probe(stack, cache.breaker, cache.store.redis.ping)
        if isinstance(nonces, RedisNonceStore) and redis is not None:
            start_probe(stack, nonces.breaker, redis.ping)
        if settings.breaker_shared and redis is not None:  # replicas adopt each other's openings
            for shared in app.state.breakers:
                if shared.name in ("nlu", "weather") or shared.name.startswith("llm"):  # not Redis's own
                    in_background(stack, SharedState(redis, shared).run(), f"breaker-share-{shared.name}")
        add_readiness_check(app, "nlu", nlu.ping)
        app.state.scaling = scaling_advisor(meters, app.state.latency_windows, settings)
        in_background(stack, meters.cpu.run(), "scaling-cpu")
        # LLM down degrades (tool routes keep working, LLM routes answer 503) instead of making us unready.
        add_readiness_check(app, "llm", llm.ping, required=False)
        log.info(
            "orchestrator_started",
            model=settings.model,
            route_models={r: m.model for r, m in route_llms.items()},
            nlu_url=settings.nlu_url,
            llm=settings.ollama_host,
        )
        yield


def create_app(settings: OrchestratorSettings | None = None) -> FastAPI:
    """The orchestrator app (settings from the environment unless given)."""
    app = create_service_app(
        service="orchestrator",
        settings=settings or load_settings(OrchestratorSettings, "orchestrator"),
        lifespan=lifespan,
        description="Routes chat requests: NLU, route policy, LLM (Ollama API).",
    )
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in _UNSIGNED_DOC_PATHS]
    app.include_router(api.router)
    app.include_router(cacheapi.router)
    app.include_router(opsapi.router)
    app.include_router(scalingapi.router)
    app.include_router(memoryapi.router)
    app.state.breaker_metrics = BreakerMetrics(app.state.registry)
    return app
