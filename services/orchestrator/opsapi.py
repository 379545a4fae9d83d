"""Operators' views: the orchestrator's dependencies, its latency and its objectives (all admin, per replica).

- ``GET /api/monitoring/circuit-breakers``: every breaker (the NLU, the LLM server, the weather API): state,
  calls and failures in its window, trips, rejections, seconds until the next trial.
- ``GET /api/monitoring/performance``: count, p50/p95/p99 and success rate per chat route (``cache`` for cached
  answers) and per other HTTP route, over the last 1, 5 and 15 minutes (``alice.slo``).
- ``GET /api/orchestrator/load-balancer``: the LLM servers, their weights (φ, φ⁻¹, … or equal), the shares those
  mean, the picks and shares observed on this replica, and each server's breaker.
- ``GET /api/monitoring/slo``: the last ``window_s`` (default 300) held to the objectives: p95 144 / 377 ms
  (warning / critical) for routes that do not wait on the LLM, success rate ≥ 0.99, the cache hit rate target.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from alice.breaker import Breakers
from alice.fibonacci import config as fibonacci_config
from alice.slo import DEFAULT_WINDOWS_S, LLM_ROUTES, LatencyWindows, SloTargets, slo_report
from orchestrator.deps import AdminDep, SettingsDep

router = APIRouter(tags=["ops"])


@router.get("/api/monitoring/circuit-breakers")
async def circuit_breakers(request: Request, _admin: AdminDep) -> dict[str, Any]:
    """This replica's circuit breakers (state is per process)."""
    breakers: Breakers = request.app.state.breakers
    return {"breakers": breakers.view()}


#: The names in the latency windows that are chat answers (the rest are other HTTP routes).
CHAT_NAMES = frozenset({"tool", "cache", *LLM_ROUTES})


@router.get("/api/monitoring/performance")
async def performance(request: Request, _admin: AdminDep) -> dict[str, Any]:
    """Latency and success per route over the last 1, 5 and 15 minutes (this replica)."""
    windows: LatencyWindows = request.app.state.latency_windows
    return {"windows": {f"{w}s": windows.summary(w) for w in DEFAULT_WINDOWS_S}}


@router.get("/api/monitoring/slo")
async def slo(
    request: Request,
    _admin: AdminDep,
    settings: SettingsDep,
    window_s: Annotated[int, Query(ge=10, le=900)] = 300,
) -> dict[str, Any]:
    """The last ``window_s`` seconds against the service-level objectives (this replica)."""
    windows: LatencyWindows = request.app.state.latency_windows
    summary = windows.summary(window_s)
    chats = {name: s["count"] for name, s in summary.items() if name in CHAT_NAMES}
    hit_rate = round(chats.get("cache", 0) / sum(chats.values()), 4) if chats else None
    fib = fibonacci_config()
    targets = SloTargets(
        p95_warning_ms=fib.fib_alert_p95_warning_ms,
        p95_critical_ms=fib.fib_alert_p95_critical_ms,
        success_rate=settings.slo_success_rate,
        cache_hit_rate=settings.slo_cache_hit_rate,
    )
    return {"window_s": window_s, **slo_report(summary, targets, hit_rate)}


@router.get("/api/orchestrator/load-balancer")
async def load_balancer(request: Request, _admin: AdminDep, settings: SettingsDep) -> dict[str, Any]:
    """The φ load balancer of this replica (one server: nothing to balance, shown as such)."""
    balancers = getattr(request.app.state, "balancers", [])
    return {
        "enabled": fibonacci_config().enable_phi_load_balancer,
        "servers": settings.llm_hosts(),
        "balancers": [b.view() for b in balancers],
    }
