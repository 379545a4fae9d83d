"""Wiring telemetry and the warmer into the orchestrator's lifespan (called from :mod:`orchestrator.app`)."""

from __future__ import annotations

import copy
from contextlib import AsyncExitStack

import structlog
from prometheus_client import CollectorRegistry

from alice.breaker import Breakers, in_background
from orchestrator.chat import ChatService
from orchestrator.warming.candidates import cacheable
from orchestrator.warming.ledger import WarmLedger
from orchestrator.warming.model import ModelSource
from orchestrator.warming.settings import WarmingSettings
from orchestrator.warming.telemetry import TelemetryRecorder, telemetry_breaker
from orchestrator.warming.warmer import Warmer, WarmingMetrics

log = structlog.get_logger("orchestrator.warming")


def start_warming(
    settings: WarmingSettings,
    chat: ChatService,
    registry: CollectorRegistry,
    breakers: Breakers,
    stack: AsyncExitStack,
) -> TelemetryRecorder | None:
    """The telemetry recorder when telemetry or warming is on (None otherwise), and the warmer as a background
    task when warming is on. Both use the answer cache's Redis client (short timeouts); without the cache they
    are off (logged)."""
    if not (settings.telemetry_enabled or settings.warming_enabled):
        return None
    cache = chat.cache
    if cache is None:
        log.warning("warming_disabled", reason="telemetry and warming need the answer cache (REDIS_URL)")
        return None
    rules = cache.config.rules
    recorder = TelemetryRecorder(
        cache.store.redis,
        keep_text=lambda intent: cacheable(rules, intent),
        max_events=settings.telemetry_max_events,
        ttl_s=settings.telemetry_ttl_s,
        breaker=breakers.add(telemetry_breaker()),
    )
    if settings.warming_enabled:
        # Warm-ups answer through the same service, without the micro route's share window: they are not traffic.
        answerer = copy.copy(chat)
        answerer.window = None
        folder = settings.warming_folder()
        warmer = Warmer(
            answerer,
            recorder,
            WarmLedger(cache.store.redis),
            ModelSource(folder).current,
            settings.warming_config(),
            WarmingMetrics(registry),
        )
        in_background(stack, warmer.run_forever(), "cache-warmer")
        log.info("warming_started", model_dir=str(folder), interval_s=settings.warming_interval_s)
    return recorder
