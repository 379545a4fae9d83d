"""``GET /api/scaling/recommendations`` (admin): the Fibonacci scaler's replica recommendation per service.

For the orchestrator, the NLU and the LLM servers: the current and recommended replica counts, the action (up,
down, emergency, hold), why, a confidence, any cooldown still running, and the measured load behind it (req/s,
p95, utilisation by signal). ``window_s`` (10–900, default ``FIB_SCALER_WINDOW_S``) is the measuring window.
Measured by this replica (``orchestrator.scaling``); ``alice scale`` turns it into Kubernetes or Docker actions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from orchestrator.deps import AdminDep
from orchestrator.scaling.advisor import ScalingAdvisor

router = APIRouter(tags=["ops"])


@router.get("/api/scaling/recommendations")
async def recommendations(
    request: Request,
    _admin: AdminDep,
    window_s: Annotated[float | None, Query(ge=10, le=900, description="measuring window in seconds")] = None,
) -> dict[str, Any]:
    """Replica recommendations per service (this replica's measurements and cooldowns)."""
    advisor: ScalingAdvisor = request.app.state.scaling
    return advisor.recommendations(window_s)
