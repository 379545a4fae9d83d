"""The Fibonacci scaler's decision, and the plain proportional scaler it is measured against.

Every threshold is a power of φ around one target utilisation ``T`` (``FIB_SCALER_TARGET_UTILISATION``, default
φ⁻² ≈ 0.382, DESIGN §5's "up above φ × target, down below φ⁻¹ × target")::

    down  below T·φ⁻¹ ≈ 0.236     one Fibonacci step down (5 → 3), cooldown 480 s
    hold  in between              the band is φ² wide, wider than one step (≈ φ), so a step never lands
                                  on the other side of it: no flapping between two counts
    up    above T·φ  ≈ 0.618      one Fibonacci step up (3 → 5), cooldown 180 s
          or p95 above its target
    emergency  at T·φ² = 1.0      (saturated) or p95 above φ² × its target: jump along the sequence to the
                                  first count whose projected utilisation is back at T, cooldown 60 s

Utilisation is per replica, the largest of the signals measured for the service (CPU, busy time, req/s against
a known capacity: :mod:`.load`). A p95 only counts once ``min_samples`` requests are behind it, and a p95 above
its target blocks any step down. Replica counts step along 1, 2, 3, 5, 8, 13, … within
``[min_replicas, max_replicas]``; a count off the sequence (4) steps to its neighbours (5 up, 3 down).

Cooldowns (:class:`FibonacciScaler`) run from the moment the scaler first recommended the last change; asking
again for the same change does not restart them, so the recommendation is stable however often it is read.

Confidence in [0, 1] is ``evidence × (1 + margin) / 2``: evidence is the share of the window the meters have
watched (times ``requests / min_samples`` when a p95 decided); margin is the distance of the deciding signal from
the threshold it crossed (or, holding, from the nearer one) in Fibonacci steps (log φ), capped at one step. At a
threshold the call is a coin toss (0.5 of the evidence); one step beyond it, certain.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from alice.fibonacci import (
    GOLDEN_RATIO,
    PHI_INVERSE,
    FibonacciConfig,
    get_fibonacci_scaling_sequence,
    next_replica_count,
)

LOG_PHI = math.log(GOLDEN_RATIO)


class Action(StrEnum):
    HOLD = "hold"
    UP = "up"
    DOWN = "down"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class ScalerPolicy:
    """Target utilisation, cooldowns and bounds (defaults: DESIGN §5; from ``FIB_SCALER_*`` via :meth:`from_config`)."""

    target_utilisation: float = PHI_INVERSE**2
    cooldown_up_s: float = 180.0
    cooldown_down_s: float = 480.0
    cooldown_emergency_s: float = 60.0
    window_s: float = 60.0
    min_samples: int = 21
    min_replicas: int = 1
    max_replicas: int = 89

    def __post_init__(self) -> None:
        if not 0 < self.target_utilisation <= 1:
            raise ValueError("target utilisation must be in (0, 1]")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError("need 1 <= min_replicas <= max_replicas")

    @classmethod
    def from_config(cls, cfg: FibonacciConfig) -> ScalerPolicy:
        """The policy the ``FIB_SCALER_*`` settings describe."""
        return cls(
            target_utilisation=cfg.fib_scaler_target_utilisation,
            cooldown_up_s=cfg.fib_scaler_cooldown_up_s,
            cooldown_down_s=cfg.fib_scaler_cooldown_down_s,
            cooldown_emergency_s=cfg.fib_scaler_cooldown_emergency_s,
            window_s=cfg.fib_scaler_window_s,
            min_samples=cfg.fib_scaler_min_samples,
            min_replicas=cfg.fib_scaler_min_replicas,
            max_replicas=cfg.fib_scaler_max_replicas,
        )

    @property
    def up_threshold(self) -> float:
        return self.target_utilisation * GOLDEN_RATIO

    @property
    def down_threshold(self) -> float:
        return self.target_utilisation / GOLDEN_RATIO

    @property
    def emergency_threshold(self) -> float:
        return self.target_utilisation * GOLDEN_RATIO**2

    def cooldown(self, action: Action) -> float:
        """Seconds that must pass after the last change before a change of this kind."""
        return {
            Action.UP: self.cooldown_up_s,
            Action.DOWN: self.cooldown_down_s,
            Action.EMERGENCY: self.cooldown_emergency_s,
        }.get(action, 0.0)

    def step(self, current: int, direction: int) -> int:
        """One Fibonacci step from ``current`` (up +1, down -1), kept within the bounds."""
        stepped = next_replica_count(current, direction, self.max_replicas)
        return max(self.min_replicas, min(self.max_replicas, stepped))

    def view(self) -> dict[str, Any]:
        return {
            "target_utilisation": round(self.target_utilisation, 4),
            "thresholds": {
                "down": round(self.down_threshold, 4),
                "up": round(self.up_threshold, 4),
                "emergency": round(self.emergency_threshold, 4),
                "p95_up": "above the target",
                "p95_emergency": f"above {GOLDEN_RATIO**2:.3f} x the target",
            },
            "cooldowns_s": {
                "up": self.cooldown_up_s,
                "down": self.cooldown_down_s,
                "emergency": self.cooldown_emergency_s,
            },
            "steps": get_fibonacci_scaling_sequence(1, self.max_replicas),
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "window_s": self.window_s,
            "min_samples": self.min_samples,
        }


@dataclass(frozen=True)
class ServiceLoad:
    """One service's measured load over the window (see :mod:`.load` for where each number comes from)."""

    service: str
    replicas: int
    #: Per-replica utilisation by signal (``cpu``, ``busy``, ``rps``); only the signals measured for the service.
    utilisations: Mapping[str, float] = field(default_factory=dict)
    p95_ms: float | None = None
    p95_target_ms: float | None = None
    requests: int = 0
    rps: float = 0.0
    #: Share of the window the meters have watched (a replica that just started has seen little).
    coverage: float = 1.0
    window_s: float = 60.0

    @property
    def utilisation(self) -> float | None:
        """The largest utilisation signal, or None when nothing gives one."""
        return max(self.utilisations.values()) if self.utilisations else None

    @property
    def signal(self) -> str | None:
        """The name of the largest utilisation signal."""
        return max(self.utilisations, key=lambda k: self.utilisations[k]) if self.utilisations else None

    @property
    def latency_ratio(self) -> float | None:
        """p95 over its target (None without either)."""
        if self.p95_ms is None or not self.p95_target_ms:
            return None
        return self.p95_ms / self.p95_target_ms

    def view(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 3),
            "requests": self.requests,
            "p95_ms": self.p95_ms,
            "p95_target_ms": self.p95_target_ms,
            "utilisations": {k: round(v, 4) for k, v in sorted(self.utilisations.items())},
            "utilisation": None if self.utilisation is None else round(self.utilisation, 4),
            "window_s": self.window_s,
            "coverage": round(self.coverage, 3),
        }


@dataclass(frozen=True)
class Decision:
    """What the thresholds say, before cooldowns."""

    action: Action
    replicas: int
    signal: str | None
    reason: str
    #: Distance of the deciding signal from its threshold, in Fibonacci steps (log φ), capped at 1.
    margin: float


def _steps(ratio: float) -> float:
    """``ratio`` (≥ 1 on the deciding side) as a margin in Fibonacci steps, within [0, 1]."""
    if ratio <= 0:
        return 0.0
    if math.isinf(ratio):
        return 1.0
    return max(0.0, min(1.0, math.log(ratio) / LOG_PHI))


def _emergency_target(load: ServiceLoad, policy: ScalerPolicy) -> int:
    """The first count along the sequence whose projected utilisation is back at the target (at least a step)."""
    floor = policy.step(load.replicas, +1)
    u = load.utilisation
    if u is None:
        return floor
    needed = load.replicas * u / policy.target_utilisation
    steps = get_fibonacci_scaling_sequence(1, policy.max_replicas)
    best = next((s for s in steps if s >= needed), steps[-1])
    return max(floor, min(best, policy.max_replicas))


def _emergency(load: ServiceLoad, policy: ScalerPolicy, latency: float | None) -> Decision | None:
    u = load.utilisation
    if u is not None and u >= policy.emergency_threshold:
        reason = f"utilisation {u:.2f} at or above {policy.emergency_threshold:.2f} (saturated)"
        return Decision(Action.EMERGENCY, _emergency_target(load, policy), load.signal, reason, 1.0)
    if latency is not None and latency >= GOLDEN_RATIO**2:
        reason = f"p95 {load.p95_ms:.0f} ms at or above φ² × its target {load.p95_target_ms:.0f} ms"
        return Decision(Action.EMERGENCY, _emergency_target(load, policy), "p95", reason, 1.0)
    return None


def _up(load: ServiceLoad, policy: ScalerPolicy, latency: float | None) -> Decision | None:
    u = load.utilisation
    target = policy.step(load.replicas, +1)
    if u is not None and u > policy.up_threshold:
        reason = f"utilisation {u:.2f} above {policy.up_threshold:.2f}"
        return Decision(Action.UP, target, load.signal, reason, _steps(u / policy.up_threshold))
    if latency is not None and latency > 1:
        reason = f"p95 {load.p95_ms:.0f} ms above its target {load.p95_target_ms:.0f} ms"
        return Decision(Action.UP, target, "p95", reason, _steps(latency))
    return None


def decide(load: ServiceLoad, policy: ScalerPolicy) -> Decision:
    """The thresholds' verdict for ``load`` (see the module docstring); no cooldowns."""
    u = load.utilisation
    raw_latency = load.latency_ratio
    latency = raw_latency if load.requests >= policy.min_samples else None
    if u is None and latency is None:
        return Decision(Action.HOLD, load.replicas, None, "nothing measured yet", 0.0)
    verdict = _emergency(load, policy, latency) or _up(load, policy, latency)
    if verdict is not None:
        if verdict.replicas == load.replicas:
            return Decision(Action.HOLD, load.replicas, verdict.signal, verdict.reason + "; at the maximum", 1.0)
        return verdict
    if u is not None and u < policy.down_threshold:
        margin = _steps(policy.down_threshold / u) if u > 0 else 1.0
        reason = f"utilisation {u:.2f} below {policy.down_threshold:.2f}"
        target = policy.step(load.replicas, -1)
        if raw_latency is not None and raw_latency > 1:
            return Decision(
                Action.HOLD, load.replicas, "p95", reason + " but p95 above its target", _steps(raw_latency)
            )
        if target == load.replicas:
            return Decision(Action.HOLD, load.replicas, load.signal, reason + "; at the minimum", margin)
        if u * load.replicas / target > policy.up_threshold:
            return Decision(Action.HOLD, load.replicas, load.signal, reason + "; a step down would cross up", 0.0)
        return Decision(Action.DOWN, target, load.signal, reason, margin)
    if u is not None:
        room = min(policy.up_threshold / u, u / policy.down_threshold)
        reason = f"utilisation {u:.2f} within [{policy.down_threshold:.2f}, {policy.up_threshold:.2f}]"
        return Decision(Action.HOLD, load.replicas, load.signal, reason, _steps(room))
    # no utilisation signal: the p95 alone, within its target (it would have decided above otherwise)
    return Decision(Action.HOLD, load.replicas, "p95", "p95 within its target", _steps(1 / (latency or 1.0)))


def confidence(load: ServiceLoad, decision: Decision, policy: ScalerPolicy) -> float:
    """How sure the decision is, in [0, 1] (module docstring)."""
    if decision.signal is None:
        return 0.0
    evidence = max(0.0, min(1.0, load.coverage))
    if decision.signal == "p95":
        evidence *= min(1.0, load.requests / policy.min_samples)
    return round(evidence * (1 + decision.margin) / 2, 3)


@dataclass(frozen=True)
class Recommendation:
    """A service's recommended replica count, with why and how sure."""

    service: str
    current: int
    replicas: int
    action: Action
    reason: str
    confidence: float
    #: What the thresholds proposed (differs from ``replicas`` while a cooldown holds it back).
    proposed: int
    cooldown_remaining_s: float
    signal: str | None
    load: ServiceLoad

    def view(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "current": self.current,
            "recommended": self.replicas,
            "action": str(self.action),
            "reason": self.reason,
            "confidence": self.confidence,
            "proposed": self.proposed,
            "cooldown_remaining_s": round(self.cooldown_remaining_s, 1),
            "signal": self.signal,
            "load": self.load.view(),
        }


class FibonacciScaler:
    """:func:`decide` plus cooldowns, per service. The state (last change per service) lives in this object: one
    per orchestrator process. Not thread-safe; use it from one event loop."""

    def __init__(self, policy: ScalerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._changes: dict[str, tuple[int, float]] = {}  # service -> (count last recommended, since when)

    def recommend(self, load: ServiceLoad) -> Recommendation:
        """The recommendation for ``load`` now."""
        decision = decide(load, self.policy)
        if decision.replicas == load.replicas:
            return self._made(load, decision, Action.HOLD, load.replicas, decision.reason)
        now = self._clock()
        last = self._changes.get(load.service)
        if last is not None and last[0] != decision.replicas:
            remaining = self.policy.cooldown(decision.action) - (now - last[1])
            if remaining > 0:
                reason = f"{decision.reason}; {decision.action} to {decision.replicas} waits out the cooldown"
                return self._made(load, decision, Action.HOLD, load.replicas, reason, remaining)
            self._changes[load.service] = (decision.replicas, now)
        elif last is None:
            self._changes[load.service] = (decision.replicas, now)
        return self._made(load, decision, decision.action, decision.replicas, decision.reason)

    def _made(
        self, load: ServiceLoad, decision: Decision, action: Action, replicas: int, reason: str, remaining: float = 0
    ) -> Recommendation:
        return Recommendation(
            service=load.service,
            current=load.replicas,
            replicas=replicas,
            action=action,
            reason=reason,
            confidence=confidence(load, decision, self.policy),
            proposed=decision.replicas,
            cooldown_remaining_s=max(0.0, remaining),
            signal=decision.signal,
            load=load,
        )


class ProportionalScaler:
    """The plain baseline: ``⌈current × utilisation / target⌉`` at every evaluation, within the bounds; no steps,
    no band, no cooldown (a Kubernetes HPA without tolerance or stabilisation window)."""

    def __init__(self, policy: ScalerPolicy) -> None:
        self.policy = policy

    def recommend(self, load: ServiceLoad) -> int:
        u = load.utilisation
        if u is None:
            return load.replicas
        desired = math.ceil(load.replicas * u / self.policy.target_utilisation - 1e-9)
        return max(self.policy.min_replicas, min(self.policy.max_replicas, desired))
