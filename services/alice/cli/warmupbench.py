"""``alice bench warmup``: what predictive warming adds to the answer cache's hit rate on a replayed workload, and
how many warm-ups nobody used.

1. A synthetic workload (:mod:`alice.cli.warmupload`) is split into a training period (21 days) and a replay
   period (the 7 days after it).
2. The training period is answered by the real chat service (:class:`orchestrator.chat.ChatService`: exact
   tier, NLU, semantic tier, route, store) over the real answer cache on a private redis-server, and each answer
   is recorded by the real telemetry recorder — as the orchestrator does with ``ORCHESTRATOR_TELEMETRY_ENABLED``.
3. The next-intent model is trained from that telemetry in Redis with the code of ``alice predict train`` and
   saved to a temporary model folder, which the warmer reads.
4. The replay period is answered twice from an empty cache, in the same order at the same simulated times:
   **without warming**, and **with warming** — the real warmer (:class:`orchestrator.warming.warmer.Warmer`, the
   settings' defaults unless overridden) runs at every interval tick between requests, and requests are recorded
   as telemetry so it sees the active sessions.
5. Then the warmer's ledger is settled for the last time: a warmed entry no user request hit by the end of the
   replay counts as never used.

The parts that are not the product's are listed in :mod:`alice.cli.warmupparts` (the answer writer instead of an
LLM, the simulated clock); the JSON says so too.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from alice.cli.fixedbackend import FixedLatencyServer
from alice.cli.localredis import private_redis
from alice.cli.warmupload import Request, WorkloadConfig, generate, utterances
from alice.cli.warmupparts import ParsedNlu, ServedLlm, SimClock, expire, parse_all
from alice.requestid import new_request_id, reset_request_id, set_request_id
from orchestrator.cache.answers import AnswerCache, CacheConfig
from orchestrator.cache.keys import KeyContext
from orchestrator.cache.semantic import SemanticMatcher
from orchestrator.cache.store import CacheStore
from orchestrator.cache.tiers import TierPolicy, parse_intent_rules
from orchestrator.chat import Caller, ChatService
from orchestrator.metrics import ChatMetrics
from orchestrator.nlu import NluResult
from orchestrator.prompts import prompt_version
from orchestrator.schemas import ChatRequest
from orchestrator.toolflow import ToolRunner
from orchestrator.tools.calculator import CalculateTool
from orchestrator.tools.clock import DateTodayTool, TimeNowTool
from orchestrator.tools.registry import ToolRegistry
from orchestrator.warming.candidates import cacheable
from orchestrator.warming.config import WarmingConfig
from orchestrator.warming.ledger import WarmLedger
from orchestrator.warming.model import ModelSource
from orchestrator.warming.sessions import Event, sessions, transitions
from orchestrator.warming.telemetry import TelemetryRecorder
from orchestrator.warming.training import TransitionBaseline, evaluate, train
from orchestrator.warming.warmer import Warmer

USER = "bench-user"
RESYNC_OFF_S = 1e12


@dataclass
class Harness:
    """The real cache, chat service, telemetry and ledger on one Redis, on a simulated clock."""

    clock: SimClock
    store: CacheStore
    cache: AnswerCache
    chat: ChatService
    llm: ServedLlm
    recorder: TelemetryRecorder
    ledger: WarmLedger


@dataclass
class Stats:
    """One period's counts."""

    requests: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    cacheable_requests: int = 0
    cacheable_hits: int = 0
    user_llm_calls: int = 0
    warm_llm_calls: int = 0
    runs: Counter[str] = field(default_factory=Counter)
    candidates: Counter[str] = field(default_factory=Counter)
    stops: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        hits = sum(self.hits.values())
        return {
            "requests": self.requests,
            "hits": hits,
            "hit_rate": round(hits / self.requests, 4) if self.requests else None,
            "hits_by_kind": dict(sorted(self.hits.items())),
            "cacheable_requests": self.cacheable_requests,
            "cacheable_hit_rate": round(self.cacheable_hits / self.cacheable_requests, 4)
            if self.cacheable_requests
            else None,
            "llm_calls": self.user_llm_calls + self.warm_llm_calls,
            "llm_calls_user": self.user_llm_calls,
            "llm_calls_warmup": self.warm_llm_calls,
        }


def _harness(redis: Any, readings: dict[str, NluResult], nlu_version: str, llm: ServedLlm) -> Harness:
    from alice.fibonacci import config as fibonacci_config
    from orchestrator.settings import OrchestratorSettings

    defaults = OrchestratorSettings.model_fields
    rules = parse_intent_rules(
        str(defaults["cache_never_intents"].default), str(defaults["cache_volatile_intents"].default)
    )
    fib = fibonacci_config()
    config = CacheConfig(
        tiers=TierPolicy.from_hours(fib.fib_cache_ttls_h),
        rules=rules,
        # The periodic full rebuild of the vector index (a safety net; the index follows Redis's event log) would
        # run at nearly every lookup on a clock that jumps hours between requests.
        resync_s=RESYNC_OFF_S,
        spiral_points=fib.fib_spiral_points,
        spiral_dimensions=fib.fib_spiral_dimensions,
    )
    clock = SimClock()
    context = KeyContext(model=llm.model, prompt_version=prompt_version(), policy_version="1", nlu_version=nlu_version)
    store = CacheStore(redis, config.max_entries)
    cache = AnswerCache(store, config, context, SemanticMatcher(), clock=clock)
    tools = ToolRunner(ToolRegistry([TimeNowTool(), DateTodayTool(), CalculateTool()]))
    chat = ChatService(ParsedNlu(readings), llm, ChatMetrics(_registry()), cache=cache, tools=tools)
    recorder = TelemetryRecorder(redis, keep_text=lambda intent: cacheable(rules, intent), clock=clock)
    return Harness(clock, store, cache, chat, llm, recorder, WarmLedger(redis))


def _registry() -> Any:
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


async def _ask(h: Harness, request: Request, stats: Stats, record: bool) -> None:
    h.clock.now = request.ts
    await expire(h.store, request.ts)
    before = h.llm.calls
    token = set_request_id(new_request_id())
    try:
        caller = Caller(tenant=request.tenant, user=USER, tools=("*",))
        response = await h.chat.answer(ChatRequest(message=request.text), caller)
    finally:
        reset_request_id(token)
        structlog.contextvars.clear_contextvars()
    stats.user_llm_calls += h.llm.calls - before
    stats.requests += 1
    if response.cache.hit:
        stats.hits[str(response.cache.kind)] += 1
    if cacheable(h.cache.config.rules, response.intent):
        stats.cacheable_requests += 1
        stats.cacheable_hits += int(response.cache.hit)
    if record:
        hit = response.cache.hit
        await h.recorder.record(request.tenant, request.session, response.intent, response.route, hit, request.text)


async def _tick(h: Harness, warmer: Warmer, now: float, stats: Stats) -> None:
    h.clock.now = now
    await expire(h.store, now)
    before = h.llm.calls
    report = await warmer.run_once()
    stats.warm_llm_calls += h.llm.calls - before
    stats.runs[report.outcome] += 1
    stats.candidates.update(report.outcomes)
    if report.stopped_by:
        stats.stops[report.stopped_by] += 1


async def _period(h: Harness, requests: Sequence[Request], record: bool, warmer: Warmer | None = None) -> Stats:
    stats = Stats()
    interval = warmer.config.interval_s if warmer is not None else 0.0
    tick = (requests[0].ts // interval + 1) * interval if warmer is not None and requests else 0.0
    for request in requests:
        while warmer is not None and tick <= request.ts:
            await _tick(h, warmer, tick, stats)
            tick += interval
        await _ask(h, request, stats, record)
    return stats


async def _reset(h: Harness) -> None:
    await h.cache.flush()
    async for key in h.store.redis.scan_iter(match="alice:warming:*"):
        await h.store.redis.delete(key)


def _replay_pairs(replay: Sequence[Request], readings: dict[str, NluResult]) -> list[Any]:
    events = [Event(r.ts, r.tenant, r.session, readings[r.text].intent) for r in replay]
    return transitions(sessions(events))


async def _run(
    workload: tuple[list[Request], list[Request]],
    readings: dict[str, NluResult],
    nlu_version: str,
    warming: WarmingConfig,
    say: Callable[[str], None],
) -> dict[str, Any]:
    from redis.asyncio import Redis

    training, replay = workload
    with (
        private_redis(None, "alice bench warmup") as url,
        tempfile.TemporaryDirectory(prefix="alice-warmup-") as folder,
    ):
        redis = Redis.from_url(url)
        backend = FixedLatencyServer(0, delay_s=0.0)  # the answers come over the Ollama API, at once
        backend.start()
        try:
            h = _harness(redis, readings, nlu_version, ServedLlm(backend))
            say(f"bench warmup: training period, {len(training)} requests through the chat service")
            trained = await _period(h, training, record=True)
            events = [e for t in await h.recorder.tenants() for e in await h.recorder.events(t)]
            model, report = train(events, say=say)
            model.save(Path(folder))
            train_pairs = transitions(sessions(events))
            replay_check = evaluate(model, TransitionBaseline(train_pairs), _replay_pairs(replay, readings))
            await _reset(h)
            say(f"bench warmup: replay without warming, {len(replay)} requests")
            plain = await _period(h, replay, record=False)
            await _reset(h)
            say("bench warmup: replay with warming")
            warmer = Warmer(h.chat, h.recorder, h.ledger, ModelSource(Path(folder)).current, warming, clock=h.clock)
            warm = await _period(h, replay, record=True, warmer=warmer)
            await expire(h.store, h.clock.now)
            await h.ledger.settle(h.store, final=True)
            ledger = await h.ledger.stats()
        finally:
            backend.shutdown()
            backend.server_close()
            await redis.aclose()
    return _result(trained, plain, warm, ledger, report, replay_check)


def _result(
    trained: Stats, plain: Stats, warm: Stats, ledger: dict[str, int], report: dict[str, Any], check: dict[str, Any]
) -> dict[str, Any]:
    without, with_ = plain.summary(), warm.summary()
    gain = with_["hit_rate"] - without["hit_rate"] if with_["hit_rate"] is not None else None
    warmed = ledger["warmed"]
    return {
        "hit_rate_without": without["hit_rate"],
        "hit_rate_with": with_["hit_rate"],
        "hit_rate_gain": round(gain, 4) if gain is not None else None,
        "warmups": warmed,
        "warmups_used": ledger["used"],
        "warmups_never_used": ledger["unused"],
        "never_used_share": round(ledger["unused"] / warmed, 4) if warmed else None,
        "llm_calls_ratio": round(with_["llm_calls"] / without["llm_calls"], 4) if without["llm_calls"] else None,
        "without_warming": without,
        "with_warming": {
            **with_,
            "runs": dict(sorted(warm.runs.items())),
            "candidates": dict(sorted(warm.candidates.items())),
            "budget_stops": dict(sorted(warm.stops.items())),
            "warmer_own_hits": ledger["own_hits"],
        },
        "training_period": trained.summary(),
        "model": {
            "rows": report["rows"],
            "classes": len(report["classes"]),
            "features": report["features"],
            "params": report["params"],
            "held_out_in_training": report["held_out"],
            "replay_period": check,
        },
    }


def bench_warmup(
    workload: WorkloadConfig, warming: WarmingConfig, say: Callable[[str], None] = lambda _msg: None
) -> dict[str, Any]:
    """Run the benchmark (see the module doc); one JSON-ready dict."""
    started = time.perf_counter()
    training, replay = generate(workload, utterances())
    texts = sorted({r.text for r in (*training, *replay)})
    readings, version = parse_all(texts, say)
    result = asyncio.run(_run((training, replay), readings, version, warming, say))
    return {
        **result,
        "workload": {
            "synthetic": "sessions from intent routines over Alice's own training utterances (alice.cli.warmupload)",
            "tenants": len({r.tenant for r in training}),
            "train_days": workload.train_days,
            "replay_days": workload.replay_days,
            "train_requests": len(training),
            "replay_requests": len(replay),
            "replay_sessions": len({r.session for r in replay}),
            "distinct_questions": len(texts),
            "seed": workload.seed,
        },
        "warming_config": {
            "interval_s": warming.interval_s,
            "active_window_s": warming.active_window_s,
            "max_warmups": warming.limits.warmups,
            "max_seconds": warming.limits.seconds,
            "max_candidates": warming.limits.candidates,
            "top_intents": warming.top_intents,
            "questions_per_intent": warming.questions_per_intent,
            "min_probability": warming.min_probability,
        },
        "answers": "a fixed-latency Ollama-API server (no delay, no model) through Alice's Ollama adapter and the "
        "real cache; simulated clock",
        "nlu_model": version,
        "seconds": round(time.perf_counter() - started, 1),
    }
