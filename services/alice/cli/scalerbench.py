"""``alice bench scaler``: the Fibonacci scaler against a plain proportional scaler on synthetic load traces.

Three traces of 24 simulated hours, one step a minute (real time, not compressed: a minute step costs nothing):

- ``steady``: 250 req/s;
- ``daily``: a day's cycle, 40 req/s at 04:00 rising to 600 req/s at 16:00 (a cosine);
- ``spike``: 150 req/s with three spikes to 8× (08:00, 13:00, 19:00): two minutes up, ten at the top, five down.

Every minute's rate is multiplied by log-normal noise (σ ``--noise``: real traffic is burstier than Poisson),
then the minute's arrivals are drawn from a Poisson distribution (seeded: the run is deterministic).

Capacity model (the same for both scalers): a replica serves ``--capacity`` req/s (one request at a time,
exponential service times: an M/M/1 queue, traffic split evenly). With ``r`` replicas serving ``λ`` req/s the p95
latency is ``ln 20 / (μ − λ/r)`` — infinite at or above capacity — and a minute violates the SLO when that
exceeds 144 ms (``FIB_ALERT_P95_WARNING_MS``; with 100 req/s a replica, when utilisation passes 0.79). A replica
asked for starts serving ``--startup-min`` minutes later but is paid for from the moment it is asked for (it
counts in replica-minutes); one removed stops at once.

The scalers decide at the end of each minute from that minute's measurements: utilisation = demand over the
deployed replicas' capacity (the ``rps`` signal), and for the Fibonacci scaler also the modelled p95 against the
SLO. Fibonacci: :class:`orchestrator.scaling.policy.FibonacciScaler` as the orchestrator runs it (thresholds
around ``FIB_SCALER_TARGET_UTILISATION``, Fibonacci steps, cooldowns 180/480/60 s) on a simulated clock.
Proportional: ``⌈current × utilisation / target⌉`` every minute, same target, no band, no cooldown.

Reported per trace and scaler: replica-minutes, SLO-violation minutes, replica changes, peak replicas; and the
ratios Fibonacci / proportional (replica-minutes, violation minutes; null where the proportional count is 0).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from alice.fibonacci import load_fibonacci_config
from orchestrator.scaling.policy import FibonacciScaler, ProportionalScaler, ScalerPolicy, ServiceLoad

MINUTES = 24 * 60
TRACES = ("steady", "daily", "spike")
SPIKES_AT_MIN = (8 * 60, 13 * 60, 19 * 60)
#: p95 handed to the scaler for a saturated minute (the queue grows without bound).
SATURATED_P95_MS = 60_000.0


@dataclass(frozen=True)
class CapacityModel:
    """Per-replica capacity, the latency objective and start-up delay (module docstring)."""

    capacity_rps: float = 100.0
    p95_slo_ms: float = 144.0
    startup_min: int = 1

    def p95_ms(self, rate: float, replicas: int) -> float:
        """Modelled p95 (ms) of ``rate`` req/s over ``replicas`` M/M/1 servers; inf when saturated."""
        spare = self.capacity_rps - rate / max(replicas, 1)
        return math.inf if replicas < 1 or spare <= 0 else math.log(20) / spare * 1000

    @property
    def violation_utilisation(self) -> float:
        """The utilisation above which the p95 passes the objective."""
        return 1 - math.log(20) / (self.capacity_rps * self.p95_slo_ms / 1000)


def base_rate(trace: str, minute: int) -> float:
    """The trace's rate (req/s) at ``minute`` before noise."""
    if trace == "steady":
        return 250.0
    if trace == "daily":
        return 320.0 - 280.0 * math.cos(2 * math.pi * (minute - 4 * 60) / MINUTES)
    if trace == "spike":
        factor = 1.0
        for at in SPIKES_AT_MIN:
            t = minute - at
            if 0 <= t < 2:
                factor = max(factor, 1 + 7 * (t + 1) / 2)
            elif 2 <= t < 12:
                factor = 8.0
            elif 12 <= t < 17:
                factor = max(factor, 8 - 7 * (t - 11) / 5)
        return 150.0 * factor
    raise ValueError(f"unknown trace {trace!r}; known: {', '.join(TRACES)}")


def arrivals(trace: str, minutes: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Requests arriving in each minute of ``trace`` (log-normal noise on the rate, then Poisson)."""
    rates = np.array([base_rate(trace, m) for m in range(minutes)])
    noisy = rates * rng.lognormal(mean=-(noise**2) / 2, sigma=noise, size=minutes)
    return rng.poisson(noisy * 60)


@dataclass
class _Deployment:
    """Replicas asked for (paid) and serving, with the ones still starting."""

    desired: int
    serving: int
    starting: deque[tuple[int, int]]  # (minute ready, count)

    def tick(self, minute: int) -> None:
        while self.starting and self.starting[0][0] <= minute:
            self.serving += self.starting.popleft()[1]

    def resize(self, target: int, minute: int, startup_min: int) -> None:
        if target > self.desired:
            self.starting.append((minute + 1 + startup_min, target - self.desired))
        cut = self.desired - target
        while cut > 0 and self.starting:  # cancel replicas still starting first, newest first
            ready, count = self.starting.pop()
            if count > cut:
                self.starting.append((ready, count - cut))
            cut -= min(cut, count)
        self.serving -= max(0, cut)
        self.desired = target


def simulate(
    counts: np.ndarray, decide: Callable[[ServiceLoad, int], int], model: CapacityModel, r0: int
) -> dict[str, Any]:
    """Run one scaler (``decide(load, minute) -> replicas``) over the arrivals ``counts``."""
    deployment = _Deployment(desired=r0, serving=r0, starting=deque())
    replica_minutes = violations = changes = 0
    peak = r0
    for minute, count in enumerate(counts):
        deployment.tick(minute)
        rate = float(count) / 60
        p95 = model.p95_ms(rate, deployment.serving)
        replica_minutes += deployment.desired
        violations += p95 > model.p95_slo_ms
        load = ServiceLoad(
            service="bench",
            replicas=deployment.desired,
            utilisations={"rps": rate / (deployment.desired * model.capacity_rps)},
            p95_ms=min(p95, SATURATED_P95_MS),
            p95_target_ms=model.p95_slo_ms,
            requests=int(count),
            rps=rate,
        )
        target = decide(load, minute)
        if target != deployment.desired:
            changes += 1
            deployment.resize(target, minute, model.startup_min)
            peak = max(peak, target)
    return {
        "replica_minutes": replica_minutes,
        "slo_violation_minutes": violations,
        "changes": changes,
        "peak_replicas": peak,
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def run_trace(
    trace: str, policy: ScalerPolicy, model: CapacityModel, minutes: int, noise: float, seed: int
) -> dict[str, Any]:
    """Both scalers on one trace (the same arrivals)."""
    counts = arrivals(trace, minutes, noise, np.random.default_rng([seed, TRACES.index(trace)]))
    r0 = max(policy.min_replicas, math.ceil(float(counts[0]) / 60 / (model.capacity_rps * policy.target_utilisation)))
    clock = {"now": 0.0}
    fibonacci = FibonacciScaler(policy, clock=lambda: clock["now"])

    def fib_decide(load: ServiceLoad, minute: int) -> int:
        clock["now"] = (minute + 1) * 60.0
        return fibonacci.recommend(load).replicas

    proportional = ProportionalScaler(policy)
    fib = simulate(counts, fib_decide, model, r0)
    prop = simulate(counts, lambda load, _m: proportional.recommend(load), model, r0)
    return {
        "mean_rps": round(float(counts.mean()) / 60, 1),
        "peak_rps": round(float(counts.max()) / 60, 1),
        "fibonacci": fib,
        "proportional": prop,
        "ratio_replica_minutes": _ratio(fib["replica_minutes"], prop["replica_minutes"]),
        "ratio_slo_violation_minutes": _ratio(fib["slo_violation_minutes"], prop["slo_violation_minutes"]),
    }


def bench_scaler(
    minutes: int = MINUTES, capacity_rps: float = 100.0, startup_min: int = 1, noise: float = 0.1, seed: int = 7
) -> dict[str, Any]:
    """Every trace, both scalers; one JSON-ready result."""
    policy = ScalerPolicy.from_config(load_fibonacci_config())
    model = CapacityModel(capacity_rps=capacity_rps, p95_slo_ms=load_fibonacci_config().fib_alert_p95_warning_ms,
                          startup_min=startup_min)  # fmt: skip
    traces = {t: run_trace(t, policy, model, minutes, noise, seed) for t in TRACES}
    total = {
        kind: {k: sum(traces[t][kind][k] for t in TRACES) for k in ("replica_minutes", "slo_violation_minutes")}
        for kind in ("fibonacci", "proportional")
    }
    return {
        "bench": "scaler",
        "model": {
            "minutes": minutes,
            "capacity_rps_per_replica": capacity_rps,
            "p95_slo_ms": model.p95_slo_ms,
            "violation_above_utilisation": round(model.violation_utilisation, 4),
            "startup_min": startup_min,
            "noise_sigma": noise,
            "seed": seed,
            "target_utilisation": round(policy.target_utilisation, 4),
            "thresholds": {"down": round(policy.down_threshold, 4), "up": round(policy.up_threshold, 4)},
            "cooldowns_s": [policy.cooldown_up_s, policy.cooldown_down_s, policy.cooldown_emergency_s],
        },
        "traces": traces,
        "total": {
            **total,
            "ratio_replica_minutes": _ratio(
                total["fibonacci"]["replica_minutes"], total["proportional"]["replica_minutes"]
            ),
            "ratio_slo_violation_minutes": _ratio(
                total["fibonacci"]["slo_violation_minutes"], total["proportional"]["slo_violation_minutes"]
            ),
        },
    }
