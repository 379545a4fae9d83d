"""The guardian app: ``uvicorn guardian.app:create_app --factory`` (port 8787, env prefix ``GUARDIAN_``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis

from alice.breaker import Breakers, CircuitBreaker, start_probe
from alice.httpclient import create_http_client
from alice.metrics import BreakerMetrics
from alice.service import add_readiness_check, create_service_app
from alice.settings import default_data_dir, load_settings
from guardian.audit import Auditor, AuditSink, FileAuditSink, RedisAuditSink
from guardian.brownout import LoadState, Sampler, ShedLoad, Thresholds, psutil_reading
from guardian.gateway import Gateway
from guardian.injection import InjectionModel, shipped_model
from guardian.keys import KeyStore
from guardian.metrics import GuardianMetrics
from guardian.policy import (
    ProtectPii,
    ScreenInjection,
    admin_write_pipeline,
    chat_pipeline,
    drafts_pipeline,
    feedback_pipeline,
    load_tool_policy,
    memory_pipeline,
    monitoring_pipeline,
    parse_pii_kinds,
    parse_pii_modes,
    parse_tool_grants,
    status_pipeline,
)
from guardian.ratelimit import RateLimit, RedisLimiter, parse_limit, parse_role_limits
from guardian.routes import router
from guardian.settings import GuardianSettings
from guardian.upstream import Upstream
from guardian.verdicts import VerdictCache

log = structlog.get_logger("guardian.app")


def _key_store(settings: GuardianSettings) -> KeyStore:
    store = KeyStore(settings.keys_file, inline=settings.api_keys, reload_interval_s=settings.keys_reload_interval_s)
    store.load()  # a corrupt key file stops start-up (ConfigError) rather than locking everyone out later
    return store


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the keys, open the orchestrator client, build the pipelines; close the client on exit."""
    settings: GuardianSettings = app.state.settings
    metrics: GuardianMetrics = app.state.guardian_metrics
    async with AsyncExitStack() as stack:
        keys = _key_store(settings)
        client = create_http_client(
            settings.upstream_url,
            timeout_s=settings.upstream_timeout_s,
            connect_timeout_s=settings.upstream_connect_timeout_s,
            max_connections=settings.upstream_max_connections,
            transport=settings.http_transport,
        )
        stack.push_async_callback(client.aclose)
        redis = _redis(settings, stack)
        load = LoadState(
            Thresholds(
                settings.brownout_cpu,
                settings.brownout_memory,
                settings.emergency_cpu,
                settings.emergency_memory,
                settings.brownout_exit_margin,
                settings.brownout_hold_s,
            ),
            metrics.load_changed,
        )
        app.state.load = load
        shed: tuple[ShedLoad, ...] = ()
        if settings.brownout_enabled:
            sampler = Sampler(load, settings.brownout_interval_s, psutil_reading)
            sampler.start()
            stack.push_async_callback(sampler.stop)
            # a level is held at least hold_s: retrying sooner is pointless
            shed = (ShedLoad(load, max(settings.retry_after_s, settings.brownout_hold_s)),)
        injection = await _injection(settings, metrics)
        # one breaker for the guardian's Redis (rate limits, audit stream): shown on GET /guardian/state
        app.state.breakers = Breakers(BreakerMetrics(app.state.registry))
        redis_breaker = app.state.breakers.add(CircuitBreaker("redis", what="Redis"))
        limits = _rate_limits(settings, metrics, redis, redis_breaker)
        if redis is not None:
            start_probe(stack, redis_breaker, redis.ping)
        secret = settings.internal_secret.get_secret_value().encode()
        upstream = Upstream(client, secret, metrics, settings.retry_after_s)
        refused = metrics.auth_failure
        app.state.gateway = Gateway(
            settings=settings,
            keys=keys,
            upstream=upstream,
            chat=chat_pipeline(
                keys,
                settings.max_message_chars,
                refused,
                load_tool_policy(settings.tools_file) if settings.tools_file else parse_tool_grants(settings.tools),
                ProtectPii(
                    settings.pii_mode,
                    parse_pii_modes(settings.pii_tenant_modes),
                    settings.pii_region,
                    metrics.pii_found,
                    parse_pii_kinds(settings.pii_kinds),
                ),
                (*shed, *limits),
                injection,
            ),
            status=status_pipeline(keys, refused),
            feedback=feedback_pipeline(keys, refused),
            monitoring=monitoring_pipeline(keys, refused),
            cache_invalidate=admin_write_pipeline(keys, refused),
            cache_flush=admin_write_pipeline(keys, refused, allow_empty_body=True),
            drafts=drafts_pipeline(keys, refused),
            memory=memory_pipeline(keys, refused),
            auditor=_auditor(settings, metrics, redis, redis_breaker),
        )
        add_readiness_check(app, "orchestrator", upstream.health)
        key_count = len(keys.list()) + len(settings.api_keys)
        if key_count == 0:
            log.warning("no_api_keys", keys_file=str(settings.keys_file), hint="alice keys create <tenant>")
        log.info("guardian_started", upstream=settings.upstream_url, keys=key_count)
        yield


def _redis(settings: GuardianSettings, stack: AsyncExitStack) -> Redis | None:
    """The Redis client of the rate limits and the audit stream; None without ``REDIS_URL``."""
    if settings.redis_url is None:
        log.warning("redis_off", reason="no REDIS_URL: no rate limits, no audit stream")
        return None
    redis = Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
    stack.push_async_callback(redis.aclose)
    return redis


def _rate_limits(
    settings: GuardianSettings, metrics: GuardianMetrics, redis: Redis | None, breaker: CircuitBreaker
) -> tuple[RateLimit, ...]:
    """The chat route's rate-limit step over Redis; none without Redis or without limits."""
    role_limits = parse_role_limits(settings.rate_limits)
    tenant_limit = parse_limit(settings.tenant_rate_limit)
    if redis is None or (not any(role_limits.values()) and tenant_limit is None):
        return ()
    limiter = RedisLimiter(redis)
    return (
        RateLimit(
            limiter, role_limits, tenant_limit, metrics.rate_decision, settings.rate_limit_fallback, breaker=breaker
        ),
    )


def load_injection(settings: GuardianSettings) -> tuple[InjectionModel, float]:
    """The injection model as configured (trained on the first start: with the embedding ~40 s) and its threshold."""
    model = shipped_model(
        settings.model_dir or default_data_dir() / "guardian",
        settings.injection_embeddings,
        settings.embed_threads,
        settings.injection_floor,
    )
    threshold = model.default_threshold if settings.injection_threshold is None else settings.injection_threshold
    return model, threshold


async def _injection(settings: GuardianSettings, metrics: GuardianMetrics) -> ScreenInjection | None:
    """The injection screen, or none when it is off."""
    if settings.injection_mode == "off":
        log.warning("injection_screening_off")
        return None
    model, threshold = await asyncio.to_thread(load_injection, settings)
    log.info("injection_model", version=model.version, threshold=threshold, second_look=model.combined is not None)
    return ScreenInjection(
        model.screen,
        threshold,
        settings.injection_mode,
        metrics.injection_flagged,
        verdicts=VerdictCache(settings.injection_verdict_cache),
        on_lookup=metrics.injection_verdict_lookup,
    )


def _auditor(
    settings: GuardianSettings, metrics: GuardianMetrics, redis: Redis | None, breaker: CircuitBreaker
) -> Auditor:
    """The audit trail's sinks: the Redis stream (with Redis) and the file (when configured)."""
    sinks: list[AuditSink] = []
    if redis is not None:
        sinks.append(
            RedisAuditSink(
                redis,
                settings.audit_retention_days * 86400,
                breaker=breaker,
                max_entries=settings.audit_max_entries,
            )
        )
    if settings.audit_file is not None:
        sinks.append(FileAuditSink(settings.audit_file))
    if not sinks:
        log.warning("audit_off", reason="no REDIS_URL and no GUARDIAN_AUDIT_FILE")
    return Auditor(sinks, metrics.audit_error)


def create_app(settings: GuardianSettings | None = None) -> FastAPI:
    """Build the guardian; settings come from the environment when not given."""
    settings = settings or load_settings(GuardianSettings, "guardian")
    app = create_service_app(
        service="guardian",
        settings=settings,
        lifespan=lifespan,
        description="Alice's policy gateway: API keys, request limits, signed forwarding to the orchestrator.",
    )
    app.state.guardian_metrics = GuardianMetrics(app.state.registry)
    app.include_router(router)
    return app
