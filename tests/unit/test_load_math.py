"""``alice bench load``'s pure rules: the ramp's ladder, the saturation rule, the mix, windows, drift and growth."""

from __future__ import annotations

from collections import Counter

import pytest

from alice.cli.loadmath import (
    Outcome,
    StepResult,
    achieved_rps,
    drift_pct,
    growth_pct,
    kind_at,
    mix_capacity,
    passes,
    rate_steps,
    refine_between,
    saturation,
    step_result,
    window_stats,
    windows,
)


def _step(offered: float, achieved: float, errors: int = 0, p95: float | None = 50.0, n: int = 100) -> StepResult:
    return StepResult(offered, achieved, n, errors, 10.0, p95)


def test_the_ladder_is_fibonacci_up_to_the_cap() -> None:
    assert rate_steps(60) == [1, 2, 3, 5, 8, 13, 21, 34, 55]
    assert rate_steps(21, start_rps=5) == [5, 8, 13, 21]
    assert refine_between(34, 55) == 44
    assert refine_between(1, 2) is None


def test_a_step_passes_only_when_it_keeps_up_without_errors_within_the_bound() -> None:
    assert passes(_step(10, 9.6), 100)
    assert not passes(_step(10, 9.4), 100)  # achieved < 95 % of offered: queueing
    assert not passes(_step(10, 10, errors=1), 100)  # 1 % errors is too many
    assert passes(_step(10, 10, errors=1, n=101), 100)
    assert not passes(_step(10, 10, p95=101), 100)
    assert not passes(_step(10, 10, p95=None), 100)
    assert not passes(StepResult(10, 0, 0, 0, None, None), 100)


def test_saturation_is_the_best_step_below_the_first_failure() -> None:
    steps = [_step(5, 5), _step(8, 8), _step(13, 10), _step(10, 10)]  # 13 failed, the step halfway passed
    best = saturation(steps, 100)
    assert best is not None and best.offered_rps == 10
    # a lucky pass above a failure does not count
    assert saturation([_step(5, 5), _step(8, 6), _step(13, 13)], 100) == _step(5, 5)
    assert saturation([_step(1, 0.5)], 100) is None


def test_the_mix_saturates_at_the_share_weighted_harmonic_mean() -> None:
    assert mix_capacity({"a": 0.5, "b": 0.5}, {"a": 100, "b": 100}) == pytest.approx(100)
    # 70 % at 100/s, 30 % at 10/s: each second of capacity serves 1 / (0.7/100 + 0.3/10) = 27 requests
    assert mix_capacity({"cached": 0.7, "uncached": 0.3}, {"cached": 100, "uncached": 10}) == pytest.approx(
        27.027, 1e-3
    )
    assert mix_capacity({"a": 1.0, "b": 0.0}, {"a": 50, "b": 0}) == pytest.approx(50)
    assert mix_capacity({"a": 0.5, "b": 0.5}, {"a": 50, "b": 0}) == 0.0


def test_kinds_of_the_mix_follow_the_shares_in_every_stretch() -> None:
    mix = [("cached", 0.7), ("uncached", 0.3)]
    counts = Counter(kind_at(i, mix) for i in range(1000))
    assert abs(counts["cached"] - 700) <= 3
    stretch = Counter(kind_at(i, mix) for i in range(500, 550))
    assert 33 <= stretch["cached"] <= 37
    assert {kind_at(i, [("only", 1.0)]) for i in range(20)} == {"only"}


def test_achieved_rate_counts_answers_from_first_to_last() -> None:
    kept_up = [Outcome(i / 10, "x", 200, 200.0) for i in range(100)]  # 10/s, all answered 200 ms later
    assert achieved_rps(kept_up) == pytest.approx(10.0)
    queued = [Outcome(i / 10, "x", 200, 200.0 + i * 50) for i in range(100)]  # each waits 50 ms longer
    assert achieved_rps(queued) == pytest.approx(100 / 15, rel=0.02)
    step = step_result([*kept_up, Outcome(10.0, "x", 0, 0.0)], 10)
    assert step.requests == 101 and step.errors == 1 and step.p95_ms == 200.0


def test_windows_and_their_statistics() -> None:
    outcomes = [Outcome(t / 2, "cached" if t % 2 else "uncached", 200, float(t)) for t in range(240)]
    outcomes.append(Outcome(3.0, "cached", 503, 1.0))
    per = windows(outcomes, 60, 120)
    assert [len(w) for w in per] == [121, 120]
    stats = window_stats(per[0])
    assert stats["requests"] == 121 and stats["errors"] == 1 and stats["errors_by_status"] == {"503": 1}
    assert stats["p95_ms"] == 113.0 and stats["cached"] == {"n": 60, "p50_ms": 59.0, "p95_ms": 113.0}
    assert windows(outcomes, 60, 100) == per[:1]  # only whole windows


def test_drift_and_growth() -> None:
    assert drift_pct(100, 110) == 10.0 and drift_pct(None, 1) is None and drift_pct(0, 1) is None
    flat = [(float(t), 100.0) for t in range(0, 600, 10)]
    assert growth_pct(flat, 60) == 0.0
    # warm-up growth does not count: 50 → 100 MB in the first minute, then flat
    warming = [(float(t), 50.0 if t < 60 else 100.0) for t in range(0, 600, 10)]
    assert growth_pct(warming, 60) == 0.0
    leaking = [(float(t), 100.0 + t / 60) for t in range(0, 610, 10)]  # +1 MB a minute
    assert growth_pct(leaking, 60) == pytest.approx(8.5, abs=0.2)
    assert growth_pct(flat[:7], 60) is None  # too few samples after the warm-up
