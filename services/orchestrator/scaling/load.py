"""Each service's load as this orchestrator replica measures it, in the scaler's terms (:class:`ServiceLoad`).

- **orchestrator** (itself): requests and p95 from the access log's latency windows (``alice.slo``; the p95 over
  the routes that do not wait on the LLM, whose seconds belong to the LLM servers' load), CPU share of this
  process (:class:`~.meter.CpuMeter`) over ``ORCHESTRATOR_SCALER_CPU_CORES``, and req/s over a replica's capacity
  where ``ORCHESTRATOR_SCALER_CAPACITY_RPS`` gives one.
- **nlu**, **modelserver** (downstreams, from the client side, :class:`~.meter.CallMeter`): req/s and p95 of the
  parse and generation calls, and the busy share — mean calls in flight over replicas × slots
  (``ORCHESTRATOR_SCALER_SLOTS``: one generation at a time per modelserver). Each orchestrator replica sees its
  share of the traffic, so the downstreams' demand is what this one sees times the orchestrator's replicas
  (traffic spread evenly: Caddy's and Kubernetes' default).

Replica counts are the operator's (``ORCHESTRATOR_SCALER_REPLICAS``; default 1, and one per LLM server): a
replica cannot count its peers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alice.slo import LLM_ROUTES, LatencyWindows, percentile
from orchestrator.scaling.meter import CallMeter, CpuMeter
from orchestrator.scaling.policy import ServiceLoad
from orchestrator.scaling.targets import MODELSERVER, NLU, ORCHESTRATOR, SERVICES
from orchestrator.settings import OrchestratorSettings

#: Paths of the calls that are a downstream's work (not its health checks or model lists).
NLU_WORK_PATHS = ("/api/nlu/parse",)
LLM_WORK_PATHS = ("/api/chat", "/api/generate", "/api/embed")


@dataclass(frozen=True)
class ScalingTargets:
    """The per-service numbers the measurements are read against."""

    replicas: Mapping[str, int]
    slots: Mapping[str, float]
    capacity_rps: Mapping[str, float]
    p95_targets_ms: Mapping[str, float]
    cpu_cores: float = 1.0

    @classmethod
    def from_settings(cls, settings: OrchestratorSettings, p95_warning_ms: float) -> ScalingTargets:
        """Defaults filled in: one replica each but one per LLM server, and the p95 warning objective for the
        orchestrator and the NLU."""
        replicas = {ORCHESTRATOR: 1, NLU: 1, MODELSERVER: len(settings.llm_hosts()), **settings.scaler_replicas}
        p95 = {ORCHESTRATOR: p95_warning_ms, NLU: p95_warning_ms, **settings.scaler_p95_targets_ms}
        slots, capacity = dict(settings.scaler_slots), dict(settings.scaler_capacity_rps)
        return cls(replicas, slots, capacity, p95, settings.scaler_cpu_cores)


class LoadReader:
    """Reads every watched service's :class:`ServiceLoad` from the meters."""

    def __init__(
        self, windows: LatencyWindows, cpu: CpuMeter, calls: Mapping[str, CallMeter], targets: ScalingTargets
    ) -> None:
        self.windows = windows
        self.cpu = cpu
        self.calls = calls
        self.targets = targets

    def loads(self, window_s: float) -> list[ServiceLoad]:
        """The load of each service over the last ``window_s`` seconds (orchestrator, nlu, modelserver)."""
        return [self.orchestrator(window_s), *(self.downstream(s, window_s) for s in SERVICES[1:])]

    def _rps_utilisation(self, service: str, rps: float, replicas: int) -> dict[str, float]:
        capacity = self.targets.capacity_rps.get(service)
        return {"rps": rps / (replicas * capacity)} if capacity else {}

    def orchestrator(self, window_s: float) -> ServiceLoad:
        replicas = self.targets.replicas[ORCHESTRATOR]
        coverage = self.cpu.coverage(window_s)
        observed = max(1e-9, min(window_s, coverage * window_s))
        everything = self.windows.durations(window_s)
        own = self.windows.durations(window_s, lambda name: name not in LLM_ROUTES)
        rps = len(everything) / observed
        utilisations = self._rps_utilisation(ORCHESTRATOR, rps, 1)
        cpu = self.cpu.share(window_s)
        if cpu is not None:
            utilisations["cpu"] = cpu / self.targets.cpu_cores
        return ServiceLoad(
            service=ORCHESTRATOR,
            replicas=replicas,
            utilisations=utilisations,
            p95_ms=percentile(own, 95),
            p95_target_ms=self.targets.p95_targets_ms.get(ORCHESTRATOR),
            requests=len(everything),
            rps=rps * replicas,
            coverage=coverage,
            window_s=window_s,
        )

    def downstream(self, service: str, window_s: float) -> ServiceLoad:
        replicas = self.targets.replicas[service]
        spread = self.targets.replicas[ORCHESTRATOR]  # each orchestrator replica sees its share
        stats = self.calls[service].stats(window_s)
        rps = stats.rps * spread
        utilisations = self._rps_utilisation(service, rps, replicas)
        slots = self.targets.slots.get(service)
        if slots:
            utilisations["busy"] = stats.busy * spread / (replicas * slots)
        return ServiceLoad(
            service=service,
            replicas=replicas,
            utilisations=utilisations,
            p95_ms=stats.p95_ms,
            p95_target_ms=self.targets.p95_targets_ms.get(service),
            requests=stats.requests,
            rps=rps,
            coverage=stats.coverage,
            window_s=window_s,
        )
