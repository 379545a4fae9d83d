"""The background warmer: every interval, predict what active sessions ask next and answer it ahead, through the
chat service's own path, so the answers are in the cache when the question comes.

One run (:meth:`Warmer.run_once`):

1. take the run lock (one warming run at a time across replicas) and settle earlier warm-ups (:mod:`.ledger`);
2. read the sessions active in the last ``active_window_s`` and the model's likely next intents for each;
3. turn them into candidate questions (:mod:`.candidates`) — only intents the cache keeps;
4. for each candidate, best first, while the budget lasts (:mod:`.budget`): skip it when its exact key is
   cached already (one Redis read), else answer it with :meth:`ChatService.answer` as the tenant, so the answer
   goes through the exact tier, the NLU, the semantic tier, the route and the store like a user's; note the entry
   it stored in the ledger.

**No actions.** Warm-ups run as a caller granted only read-only tools (``ORCHESTRATOR_WARMING_TOOLS``, default
``math.calculate,weather.lookup``); a question the NLU now reads as an action (a timer, a memory, a draft,
home control) is refused by the tool gate (``tool_denied``) and nothing runs. The candidates never include such
intents in the first place (their questions are not even kept in telemetry). Warm-ups are not recorded as
telemetry (they do not go through the HTTP route), use their own request ids (``warm-…``), and do not count in
the micro route's share window (:func:`orchestrator.warming.wiring` gives them a chat service without it).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter
from pydantic import ValidationError
from redis.exceptions import RedisError

from alice.errors import DependencyDownError, ServiceError, ToolDeniedError, UpstreamError, UpstreamTimeoutError
from alice.metrics import LLM_BUCKETS_S
from alice.requestid import new_request_id, reset_request_id, set_request_id
from orchestrator.cache.answers import AnswerCache
from orchestrator.chat import Caller
from orchestrator.schemas import ChatRequest, ChatResponse
from orchestrator.warming.budget import Budget
from orchestrator.warming.candidates import Candidate, Pool, cacheable, plan_candidates, question_pools
from orchestrator.warming.config import WarmingConfig
from orchestrator.warming.ledger import WarmLedger
from orchestrator.warming.model import WarmingModel
from orchestrator.warming.telemetry import TelemetryRecorder

log = structlog.get_logger("orchestrator.warming")


class ChatPort(Protocol):
    """What the warmer needs of the chat service."""

    cache: AnswerCache | None

    async def answer(self, request: ChatRequest, caller: Caller | None = None) -> ChatResponse: ...


class WarmingMetrics:
    """Prometheus counters of the warmer."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = PromCounter(
            "alice_warming_runs_total",
            "Warming runs by outcome (ran, no_model, no_cache, no_sessions, locked, redis_error).",
            ["outcome"],
            registry=registry,
        )
        self.candidates = PromCounter(
            "alice_warming_candidates_total",
            "Candidate questions by outcome: warmed (answer computed and stored), cached (already there: skipped), "
            "not_stored, denied, failed, invalid.",
            ["outcome"],
            registry=registry,
        )
        self.settled = PromCounter(
            "alice_warming_settled_total",
            "Warmed entries settled: used (a user's request hit it) or unused (gone from the cache unasked).",
            ["outcome"],
            registry=registry,
        )
        self.stops = PromCounter(
            "alice_warming_budget_stops_total",
            "Runs stopped by their budget, by the limit reached (warmups, seconds, candidates).",
            ["reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "alice_warming_run_duration_seconds",
            "Duration of warming runs that ran (Fibonacci buckets).",
            buckets=LLM_BUCKETS_S,
            registry=registry,
        )


@dataclass
class RunReport:
    """What one run did."""

    outcome: str
    sessions: int = 0
    candidates: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    stopped_by: str | None = None
    used: int = 0
    unused: int = 0


class Warmer:
    """Runs warming rounds; :meth:`run_forever` is the orchestrator's background task."""

    def __init__(
        self,
        chat: ChatPort,
        telemetry: TelemetryRecorder,
        ledger: WarmLedger,
        model: Callable[[], WarmingModel | None],
        config: WarmingConfig | None = None,
        metrics: WarmingMetrics | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.chat = chat
        self.telemetry = telemetry
        self.ledger = ledger
        self._model = model
        self.config = config or WarmingConfig()
        self._metrics = metrics
        self._clock = clock
        self._timer = timer
        #: Each tenant's question pools and when they were counted (pools change slowly; counting reads thousands
        #: of events).
        self._pools: dict[str, tuple[float, dict[str, Pool]]] = {}

    async def run_forever(self) -> None:
        """A run every ``interval_s`` (the first after one interval); an unexpected error is logged, not fatal."""
        while True:
            await asyncio.sleep(self.config.interval_s)
            try:
                await self.run_once()
            except Exception as exc:  # noqa: BLE001 - the warmer must outlive a bad round
                log.error("warming_run_failed", error_type=type(exc).__name__, exc_info=exc)

    async def run_once(self) -> RunReport:
        """One warming round (see the module doc)."""
        cache = self.chat.cache
        if cache is None or not cache.available:
            return self._done(RunReport("no_cache"))
        started = self._timer()
        try:
            token = await self.ledger.acquire(self.config.limits.seconds + self.config.interval_s)
            if token is None:
                return self._done(RunReport("locked"))
            try:
                report = await self._round(cache)
            finally:
                await self.ledger.release(token)
        except (RedisError, OSError) as exc:
            log.warning("warming_redis_unavailable", error_type=type(exc).__name__)
            return self._done(RunReport("redis_error"))
        if report.outcome == "ran" and self._metrics is not None:
            self._metrics.duration.observe(self._timer() - started)
        return self._done(report)

    def _done(self, report: RunReport) -> RunReport:
        if self._metrics is not None:
            self._metrics.runs.labels(report.outcome).inc()
            for outcome, n in report.outcomes.items():
                self._metrics.candidates.labels(outcome).inc(n)
            if report.stopped_by:
                self._metrics.stops.labels(report.stopped_by).inc()
        if report.outcome == "ran":
            log.info(
                "warming_run",
                sessions=report.sessions,
                candidates=report.candidates,
                stopped_by=report.stopped_by,
                **dict(report.outcomes),
            )
        return report

    async def _round(self, cache: AnswerCache) -> RunReport:
        settled = await self.ledger.settle(cache.store)
        if self._metrics is not None:
            self._metrics.settled.labels("used").inc(settled.used)
            self._metrics.settled.labels("unused").inc(settled.unused)
        model = self._model()
        if model is None:
            return RunReport("no_model", used=settled.used, unused=settled.unused)
        cfg = self.config
        now = self._clock()
        moments = await self.telemetry.active(now - cfg.active_window_s, cfg.max_sessions)
        if not moments:
            return RunReport("no_sessions", used=settled.used, unused=settled.unused)
        pools = {tenant: await self._pools_of(tenant, now) for tenant in sorted({m.tenant for m in moments})}
        warmable = [c for c in model.classes if cacheable(cache.config.rules, c)]
        candidates = plan_candidates(moments, model.top(moments, cfg.top_intents), pools, cfg.min_probability, warmable)
        report = RunReport("ran", len(moments), len(candidates), used=settled.used, unused=settled.unused)
        budget = Budget(cfg.limits, self._timer)
        for candidate in candidates:
            report.stopped_by = budget.stop_reason()
            if report.stopped_by is not None:
                break
            budget.looked_at()
            outcome = await self._warm(cache, candidate, budget, now)
            report.outcomes[outcome] += 1
            if outcome == "failed_upstream":
                break
        return report

    async def _pools_of(self, tenant: str, now: float) -> dict[str, Pool]:
        """The tenant's question pools, counted again when older than ``pool_refresh_s``."""
        counted = self._pools.get(tenant)
        if counted is None or now - counted[0] >= self.config.pool_refresh_s or now < counted[0]:
            recent = await self.telemetry.recent(tenant, self.config.pool_events)
            counted = (now, question_pools(recent, self.config.questions_per_intent))
            self._pools[tenant] = counted
        return counted[1]

    async def _warm(self, cache: AnswerCache, candidate: Candidate, budget: Budget, now: float) -> str:
        """Warm one question; returns the outcome."""
        known = await cache.store.entry_for_key(cache.key(candidate.tenant, candidate.question))
        if known is not None and known.tenant == candidate.tenant:
            return "cached"
        try:
            request = ChatRequest(message=candidate.question)
        except ValidationError:
            return "invalid"
        request_id = f"warm-{new_request_id()}"
        caller = Caller(tenant=candidate.tenant, user=self.config.user, tools=self.config.tools)
        token = set_request_id(request_id)
        try:
            response = await self.chat.answer(request, caller)
        except ToolDeniedError:
            return "denied"
        except (DependencyDownError, UpstreamError, UpstreamTimeoutError) as exc:
            log.warning("warming_upstream_failed", error_code=exc.code)
            budget.warmed()
            return "failed_upstream"
        except ServiceError as exc:
            log.warning("warming_failed", error_code=exc.code)
            return "failed"
        finally:
            reset_request_id(token)
            structlog.contextvars.clear_contextvars()
        link = await cache.store.request_link(request_id)
        if response.cache.hit:
            if link is not None:
                await self.ledger.own_hit(link["id"])
            return "cached"
        budget.warmed()
        if link is None or link.get("kind") != "fresh":
            return "not_stored"
        await self.ledger.warmed(link["id"], candidate.tenant, candidate.intent, now)
        return "warmed"
