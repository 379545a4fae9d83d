"""Operators' views of the orchestrator's dependencies.

- ``GET /api/monitoring/circuit-breakers`` (admin): every breaker of this replica (the NLU, the LLM server, the
  weather API): state, calls and failures in its window, trips, rejections, seconds until the next trial.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from alice.breaker import Breakers
from orchestrator.deps import AdminDep

router = APIRouter(tags=["ops"])


@router.get("/api/monitoring/circuit-breakers")
async def circuit_breakers(request: Request, _admin: AdminDep) -> dict[str, Any]:
    """This replica's circuit breakers (state is per process)."""
    breakers: Breakers = request.app.state.breakers
    return {"breakers": breakers.view()}
