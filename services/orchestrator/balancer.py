"""The φ load balancer: LLM calls spread over several Ollama-API backends by golden-ratio weights.

With ``ORCHESTRATOR_LLM_BACKENDS`` naming more than one server (primary first), each call goes to one of them,
picked by smooth weighted round robin (nginx's algorithm: deterministic and interleaved, so the shares match the
weights over any few dozen picks, not only on average). The weights are φ, φ⁻¹, φ⁻², … for primary, secondary,
tertiary, … (``ENABLE_PHI_LOAD_BALANCER=true``, ``PHI_PRIMARY_WEIGHT``, ``PHI_SECONDARY_WEIGHT``), or all equal —
plain round robin, the baseline — when it is off.

Every backend has its own circuit breaker (``alice.breaker``): an open one is skipped, and a call that fails for
the backend (down, timed out, 5xx) is tried once on each other backend before the error is returned. A stream
moves to another backend only before its first piece. A pick that was handed over is not counted and its cost
is refunded, so a backend that failed for a while takes its share again as soon as it is back. ``view()`` is what
``/api/orchestrator/load-balancer`` shows: weights, the shares they mean, the picks served and the shares
observed, the calls handed over, and each breaker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from alice.breaker import BreakerState, dependency_failure
from alice.errors import ServiceError
from orchestrator.llm import LlmAnswer, LlmChunk, Message, OllamaLlm

log = structlog.get_logger("orchestrator.balancer")


@dataclass
class Backend:
    """One Ollama-API server: its adapter (with its breaker), its weight, and the picker's state."""

    host: str
    llm: OllamaLlm
    weight: float
    picks: int = 0
    current: float = 0.0
    handed_over: int = 0


def smooth_pick(backends: Sequence[Backend]) -> Backend:
    """Smooth weighted round robin: each backend gains its weight, the richest is picked and pays the total."""
    total = sum(b.weight for b in backends)
    for backend in backends:
        backend.current += backend.weight
    chosen = max(backends, key=lambda b: b.current)
    chosen.current -= total
    chosen.picks += 1
    return chosen


class BalancedLlm:
    """An :class:`~orchestrator.llm.Llm` over several backends serving the same ``model``."""

    def __init__(self, backends: Sequence[Backend], model: str) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        self.backends = list(backends)
        self.model = model

    def pick(self, exclude: Sequence[Backend] = ()) -> Backend:
        """The next backend by weight among those not excluded whose breaker is not open (all open: any)."""
        candidates = [b for b in self.backends if b not in exclude]
        usable = [b for b in candidates if b.llm.breaker.state is not BreakerState.OPEN]
        return smooth_pick(usable or candidates)

    async def complete(
        self,
        messages: Sequence[Message],
        num_predict: int,
        temperature: float,
        output_format: dict[str, Any] | None = None,
    ) -> LlmAnswer:
        """The whole answer from the picked backend; another one when that one fails for its own reasons."""
        tried: list[Backend] = []
        while True:
            backend = self.pick(tried)
            try:
                return await backend.llm.complete(messages, num_predict, temperature, output_format)
            except ServiceError as exc:
                tried.append(backend)
                if not dependency_failure(exc) or len(tried) == len(self.backends):
                    raise
                self._handed_over(backend)
                log.warning("llm_backend_failover", backend=backend.host, error_code=exc.code)

    async def stream(
        self, messages: Sequence[Message], num_predict: int, temperature: float
    ) -> AsyncIterator[LlmChunk]:
        """The answer as it is generated; before its first piece a failing backend hands over to another."""
        tried: list[Backend] = []
        while True:
            backend = self.pick(tried)
            started = False
            try:
                async for chunk in backend.llm.stream(messages, num_predict, temperature):
                    started = True
                    yield chunk
                return
            except ServiceError as exc:
                tried.append(backend)
                if started or not dependency_failure(exc) or len(tried) == len(self.backends):
                    raise
                self._handed_over(backend)
                log.warning("llm_backend_failover", backend=backend.host, error_code=exc.code, stream=True)

    def _handed_over(self, backend: Backend) -> None:
        """A pick that did not serve: not counted, and its cost refunded, so a backend that failed for a while
        does not come back owing the picks it could not take (its share would lag long after it recovered)."""
        backend.picks -= 1
        backend.current += sum(b.weight for b in self.backends)
        backend.handed_over += 1

    async def ping(self) -> bool:
        """Readiness: at least one backend lists its models."""
        for backend in self.backends:
            try:
                if await backend.llm.ping():
                    return True
            except Exception:  # noqa: BLE001 - one down backend is not the balancer down
                log.debug("llm_backend_ping_failed", backend=backend.host)
        return False

    def view(self) -> dict[str, Any]:
        total_weight = sum(b.weight for b in self.backends)
        total_picks = sum(b.picks for b in self.backends)
        return {
            "model": self.model,
            "backends": [
                {
                    "host": b.host,
                    "weight": round(b.weight, 6),
                    "expected_share": round(b.weight / total_weight, 4),
                    "picks": b.picks,
                    "observed_share": round(b.picks / total_picks, 4) if total_picks else None,
                    "handed_over": b.handed_over,
                    "breaker": b.llm.breaker.state.value,
                }
                for b in self.backends
            ],
        }
