"""HTTP routes around the answer cache (feedback, the admin's view and controls) and the routing view.

- ``POST /api/feedback`` (any role): a thumbs-down removes the cached entry that answered the request.
- ``GET /api/monitoring/cache`` (admin): size, hits by tier and kind, false-hit reports, lookup latency.
- ``POST /api/cache/invalidate`` (admin): remove entries by tag (tenant, intent, model, policy version).
- ``POST /api/cache/flush`` (admin): remove everything cached.
- ``GET /api/monitoring/routing`` (admin): the shared window of recent routes and this replica's decisions.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry

from alice.errors import DependencyDownError, NotFoundError, ValidationFailedError
from orchestrator.chat import ChatService
from orchestrator.deps import (
    AdminDep,
    CacheDep,
    ClaimsDep,
    FeedbackRequestDep,
    InvalidateRequestDep,
)
from orchestrator.schemas import CacheChangeResponse, FeedbackResponse

router = APIRouter(tags=["cache"])


def _unavailable() -> DependencyDownError:
    return DependencyDownError("The cache's Redis is unavailable; try again shortly.", retry_after=2)


@router.post("/api/feedback", response_model=FeedbackResponse)
async def feedback(claims: ClaimsDep, body: FeedbackRequestDep, cache: CacheDep) -> FeedbackResponse:
    """Rate the answer to an earlier request of the same tenant; "down" drops its cached entry."""
    result = await cache.feedback(claims.tenant, body.request_id, body.rating)
    if result is None:
        if not cache.available:
            raise _unavailable()
        raise NotFoundError("No answer with that request id is known for this tenant (or it is older than 24 h).")
    return FeedbackResponse(request_id=body.request_id, rating=body.rating, **result)


def _lookup_summary(registry: CollectorRegistry) -> dict[str, Any]:
    """This replica's lookups by tier and result, hits by level, and mean latency, from its Prometheus registry."""
    out: dict[str, Any] = {}
    for metric in registry.collect():
        if metric.name == "alice_cache_lookups":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    tier, result = sample.labels["tier"], sample.labels["result"]
                    out.setdefault(tier, {}).setdefault(result, 0)
                    out[tier][result] += int(sample.value)
        if metric.name == "alice_cache_hits_by_level":
            levels = {s.labels["level"]: int(s.value) for s in metric.samples if s.name.endswith("_total")}
            out["hits_by_level"] = dict(sorted(levels.items(), key=lambda kv: int(kv[0][1:])))
        if metric.name == "alice_cache_lookup_duration_seconds":
            sums = {s.labels["tier"]: s.value for s in metric.samples if s.name.endswith("_sum")}
            counts = {s.labels["tier"]: s.value for s in metric.samples if s.name.endswith("_count")}
            for tier, count in counts.items():
                if count:
                    out.setdefault(tier, {})["mean_ms"] = round(sums.get(tier, 0.0) / count * 1000, 3)
    return out


@router.get("/api/monitoring/cache")
async def monitoring_cache(request: Request, _admin: AdminDep, cache: CacheDep) -> dict[str, Any]:
    """The cache as the admin sees it: shared size and counters, this replica's lookups and latency."""
    stats = await cache.stats()
    counters = stats.get("counters", {})
    return {
        **stats,
        "hits": {kind: counters.get(f"hits_{kind}", 0) for kind in ("exact", "semantic")},
        "hits_by_level": {k: v for k, v in sorted(counters.items()) if k.startswith("hits_L")},
        "false_hit_reports": counters.get("false_hit_reports", 0),
        "replica_lookups": _lookup_summary(request.app.state.registry),
    }


@router.get("/api/monitoring/routing")
async def monitoring_routing(request: Request, _admin: AdminDep) -> dict[str, Any]:
    """Routing as the admin sees it: the shared window of recent routes (the micro cap) and this replica's
    decisions by route and reason."""
    chat: ChatService = request.app.state.chat
    decisions: dict[str, dict[str, int]] = {}
    for metric in request.app.state.registry.collect():
        if metric.name == "alice_route_decisions":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    by_reason = decisions.setdefault(sample.labels["route"], {})
                    by_reason[sample.labels["reason"]] = int(sample.value)
    window = await chat.window.shares() if chat.window is not None else None
    return {
        "window": window,
        "replica_decisions": decisions,
        "tools": sorted(chat.tools.intents()) if chat.tools else [],
    }


@router.post("/api/cache/invalidate", response_model=CacheChangeResponse)
async def invalidate(_admin: AdminDep, body: InvalidateRequestDep, cache: CacheDep) -> CacheChangeResponse:
    """Remove every cached answer carrying all the given tags."""
    tags = body.tags()
    if not tags:
        raise ValidationFailedError("Name at least one of tenant, intent, model, policy_version.")
    removed = await cache.invalidate(tags)
    if removed is None:
        raise _unavailable()
    return CacheChangeResponse(removed=removed)


@router.post("/api/cache/flush", response_model=CacheChangeResponse)
async def flush(_admin: AdminDep, cache: CacheDep) -> CacheChangeResponse:
    """Remove everything cached (answers, exact keys, remembered failures, feedback links)."""
    removed = await cache.flush()
    if removed is None:
        raise _unavailable()
    return CacheChangeResponse(removed=removed)
