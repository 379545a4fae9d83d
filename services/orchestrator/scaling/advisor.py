"""What the orchestrator wires: the meters on its clients, and the advisor behind ``/api/scaling/recommendations``.

The recommendations are this replica's: its own measurements (its CPU, the calls it made) and its own cooldown
clock (:class:`~.policy.FibonacciScaler` state lives in the process and starts afresh with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from alice.fibonacci import config as fibonacci_config
from alice.slo import LatencyWindows
from orchestrator.scaling.load import LLM_WORK_PATHS, NLU_WORK_PATHS, LoadReader, ScalingTargets
from orchestrator.scaling.meter import CallMeter, CpuMeter, MeteredTransport
from orchestrator.scaling.policy import FibonacciScaler, ScalerPolicy
from orchestrator.scaling.targets import MODELSERVER, NLU
from orchestrator.settings import OrchestratorSettings


@dataclass
class ScalingMeters:
    """One CPU meter for this process and one call meter per downstream."""

    cpu: CpuMeter = field(default_factory=CpuMeter)
    calls: dict[str, CallMeter] = field(default_factory=lambda: {NLU: CallMeter(), MODELSERVER: CallMeter()})

    def nlu_transport(self, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """``inner`` with the NLU's parse calls timed."""
        return MeteredTransport(inner, self.calls[NLU], NLU_WORK_PATHS)

    def llm_transport(self) -> httpx.AsyncBaseTransport:
        """A transport for an LLM server's client with its generation and embedding calls timed (all LLM servers
        feed one meter: together they are the modelserver's replicas)."""
        return MeteredTransport(httpx.AsyncHTTPTransport(), self.calls[MODELSERVER], LLM_WORK_PATHS)


class ScalingAdvisor:
    """Recommendations for every watched service, from the meters, through the Fibonacci scaler."""

    def __init__(self, reader: LoadReader, scaler: FibonacciScaler) -> None:
        self.reader = reader
        self.scaler = scaler

    def recommendations(self, window_s: float | None = None) -> dict[str, Any]:
        """The view ``GET /api/scaling/recommendations`` returns."""
        window = window_s or self.scaler.policy.window_s
        recommendations = [self.scaler.recommend(load) for load in self.reader.loads(window)]
        return {
            "scope": "this orchestrator replica: its measurements and its cooldown clock",
            "window_s": window,
            "policy": self.scaler.policy.view(),
            "services": [r.view() for r in recommendations],
        }


def scaling_advisor(meters: ScalingMeters, windows: LatencyWindows, settings: OrchestratorSettings) -> ScalingAdvisor:
    """The advisor over ``meters`` and the access log's latency windows, with the ``FIB_SCALER_*`` policy."""
    fib = fibonacci_config()
    targets = ScalingTargets.from_settings(settings, fib.fib_alert_p95_warning_ms)
    reader = LoadReader(windows, meters.cpu, meters.calls, targets)
    return ScalingAdvisor(reader, FibonacciScaler(ScalerPolicy.from_config(fib)))
