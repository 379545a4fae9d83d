"""The Fibonacci scaler's decision: φ thresholds, Fibonacci steps, emergencies, cooldowns, confidence."""

from __future__ import annotations

import math

import pytest

from alice.errors import ConfigError
from alice.fibonacci import GOLDEN_RATIO, PHI_INVERSE, load_fibonacci_config
from orchestrator.scaling.policy import (
    Action,
    FibonacciScaler,
    ProportionalScaler,
    ScalerPolicy,
    ServiceLoad,
    confidence,
    decide,
)

POLICY = ScalerPolicy()


def load(u: float | None, replicas: int = 3, **kw: object) -> ServiceLoad:
    utilisations = {} if u is None else {"busy": u}
    return ServiceLoad(service="nlu", replicas=replicas, utilisations=utilisations, **kw)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_thresholds_are_powers_of_phi_around_the_target() -> None:
    assert POLICY.target_utilisation == pytest.approx(PHI_INVERSE**2)
    assert POLICY.up_threshold == pytest.approx(PHI_INVERSE)  # 0.618
    assert POLICY.down_threshold == pytest.approx(PHI_INVERSE**3)  # 0.236
    assert POLICY.emergency_threshold == pytest.approx(1.0)
    # the hold band (φ² wide) is wider than one Fibonacci step, so a step cannot cross it
    assert POLICY.up_threshold / POLICY.down_threshold > 5 / 3


def test_policy_comes_from_the_fibonacci_settings() -> None:
    cfg = load_fibonacci_config(
        fib_scaler_target_utilisation=0.5, fib_scaler_cooldown_up_s=30, fib_scaler_max_replicas=13
    )
    policy = ScalerPolicy.from_config(cfg)
    assert (policy.target_utilisation, policy.cooldown_up_s, policy.max_replicas) == (0.5, 30, 13)
    assert (policy.cooldown_down_s, policy.cooldown_emergency_s) == (480, 60)
    with pytest.raises(ConfigError, match="FIB_SCALER_MIN_REPLICAS"):
        load_fibonacci_config(fib_scaler_min_replicas=8, fib_scaler_max_replicas=5)
    with pytest.raises(ConfigError, match="FIB_SCALER_TARGET_UTILISATION"):
        load_fibonacci_config(fib_scaler_target_utilisation=1.5)


@pytest.mark.parametrize(
    ("u", "replicas", "action", "target"),
    [
        (0.40, 3, Action.HOLD, 3),
        (0.60, 3, Action.HOLD, 3),
        (0.62, 3, Action.UP, 5),
        (0.90, 5, Action.UP, 8),
        (0.24, 5, Action.HOLD, 5),
        (0.20, 5, Action.DOWN, 3),
        (0.20, 8, Action.DOWN, 5),
        (0.00, 2, Action.DOWN, 1),
        (0.70, 4, Action.UP, 5),  # a count off the sequence steps to its neighbours
        (0.10, 4, Action.DOWN, 3),
    ],
)
def test_one_fibonacci_step_across_the_thresholds(u: float, replicas: int, action: Action, target: int) -> None:
    decision = decide(load(u, replicas), POLICY)
    assert (decision.action, decision.replicas) == (action, target)


def test_emergency_jumps_to_the_first_count_back_at_the_target() -> None:
    decision = decide(load(1.5, replicas=3), POLICY)
    # 3 replicas at 1.5 need 3 × 1.5 / 0.382 ≈ 11.8 replicas: the next Fibonacci count is 13
    assert (decision.action, decision.replicas) == (Action.EMERGENCY, 13)
    assert 3 * 1.5 / 13 <= POLICY.target_utilisation
    # at exactly the emergency threshold: 3 × 1.0 / 0.382 ≈ 7.9, so 8
    assert decide(load(1.0, replicas=3), POLICY).replicas == 8


def test_latency_scales_up_only_with_enough_samples_and_blocks_scaling_down() -> None:
    slow = {"p95_ms": 200.0, "p95_target_ms": 144.0}
    assert decide(load(0.4, requests=5, **slow), POLICY).action is Action.HOLD  # 5 < 21 samples
    up = decide(load(0.4, requests=50, **slow), POLICY)
    assert (up.action, up.replicas, up.signal) == (Action.UP, 5, "p95")
    critical = decide(load(0.1, requests=50, p95_ms=144 * GOLDEN_RATIO**2 + 1, p95_target_ms=144.0), POLICY)
    assert critical.action is Action.EMERGENCY and critical.replicas == 5  # at least one step, whatever u says
    held = decide(load(0.1, requests=5, **slow), POLICY)
    assert held.action is Action.HOLD and "p95 above" in held.reason


def test_bounds_hold_at_the_minimum_and_the_maximum() -> None:
    policy = ScalerPolicy(min_replicas=2, max_replicas=13)
    assert decide(load(0.0, replicas=2), policy).action is Action.HOLD
    assert decide(load(0.9, replicas=13), policy).action is Action.HOLD
    assert decide(load(5.0, replicas=5), policy).replicas == 13
    with pytest.raises(ValueError):
        ScalerPolicy(min_replicas=5, max_replicas=3)


def test_nothing_measured_holds_with_no_confidence() -> None:
    decision = decide(load(None), POLICY)
    assert decision.action is Action.HOLD and confidence(load(None), decision, POLICY) == 0.0


def test_confidence_grows_with_distance_and_evidence() -> None:
    def sure(u: float, coverage: float = 1.0) -> float:
        item = load(u, coverage=coverage)
        return confidence(item, decide(item, POLICY), POLICY)

    at_threshold, one_step_beyond = sure(0.62), sure(0.618 * GOLDEN_RATIO * 1.01)
    assert 0.5 <= at_threshold < 0.52 and one_step_beyond == 1.0
    assert sure(POLICY.target_utilisation) == 1.0  # the middle of the band, a full step from either side
    assert sure(0.5) < sure(0.4)
    assert sure(0.9, coverage=0.5) == pytest.approx(sure(0.9) / 2, abs=0.001)
    slow = load(0.4, requests=42, p95_ms=300.0, p95_target_ms=144.0)
    fewer = load(0.4, requests=21, p95_ms=300.0, p95_target_ms=144.0, coverage=1.0)
    assert confidence(slow, decide(slow, POLICY), POLICY) == confidence(fewer, decide(fewer, POLICY), POLICY)
    for u in (0.0, 0.1, 0.3, 0.5, 0.7, 1.0, 3.0, math.inf):
        assert 0.0 <= sure(u) <= 1.0


def test_cooldowns_up_down_and_emergency() -> None:
    clock = Clock()
    scaler = FibonacciScaler(POLICY, clock=clock)
    first = scaler.recommend(load(0.7, replicas=3))
    assert (first.action, first.replicas) == (Action.UP, 5)
    # applied; still hot 60 s later: a second step up waits for 180 s after the first
    clock.now += 60
    held = scaler.recommend(load(0.7, replicas=5))
    assert (held.action, held.replicas, held.proposed) == (Action.HOLD, 5, 8)
    assert held.cooldown_remaining_s == pytest.approx(120)
    clock.now += 120
    assert scaler.recommend(load(0.7, replicas=5)).replicas == 8
    # quiet now: down waits 480 s after the last change
    clock.now += 400
    assert scaler.recommend(load(0.1, replicas=8)).action is Action.HOLD
    clock.now += 80
    assert scaler.recommend(load(0.1, replicas=8)).replicas == 5
    # an emergency needs only 60 s
    clock.now += 59
    assert scaler.recommend(load(2.0, replicas=5)).action is Action.HOLD
    clock.now += 1
    emergency = scaler.recommend(load(2.0, replicas=5))
    assert emergency.action is Action.EMERGENCY and emergency.replicas == 34


def test_reading_again_does_not_restart_the_cooldown() -> None:
    clock = Clock()
    scaler = FibonacciScaler(POLICY, clock=clock)
    for _ in range(5):  # nobody applies it: the same change is recommended every time
        assert scaler.recommend(load(0.7, replicas=3)).replicas == 5
        clock.now += 30
    other = FibonacciScaler(POLICY, clock=clock)
    assert other.recommend(load(0.1, replicas=3)).replicas == 2  # cooldowns are per scaler (per process)


def test_cooldowns_are_per_service() -> None:
    clock = Clock()
    scaler = FibonacciScaler(POLICY, clock=clock)
    assert scaler.recommend(load(0.7, replicas=3)).replicas == 5
    other = ServiceLoad(service="modelserver", replicas=3, utilisations={"busy": 0.7})
    assert scaler.recommend(other).replicas == 5


def test_the_view_names_everything_the_endpoint_shows() -> None:
    view = FibonacciScaler(POLICY).recommend(load(0.7, replicas=3, p95_ms=40.0, p95_target_ms=144.0)).view()
    assert set(view) >= {"service", "current", "recommended", "action", "reason", "confidence", "cooldown_remaining_s"}
    assert view["load"]["utilisations"] == {"busy": 0.7} and view["load"]["p95_ms"] == 40.0
    assert POLICY.view()["steps"][:6] == [1, 2, 3, 5, 8, 13]


@pytest.mark.parametrize(
    ("u", "replicas", "target"), [(0.4, 3, 4), (PHI_INVERSE**2, 5, 5), (0.1, 8, 3), (0.0, 5, 1), (2.0, 2, 11)]
)
def test_the_proportional_baseline(u: float, replicas: int, target: int) -> None:
    assert ProportionalScaler(POLICY).recommend(load(u, replicas)) == target
