"""The pure parts of ``alice bench load``: ramp steps, the saturation rule, per-window statistics, p95 drift and
RSS growth. No I/O here, so each rule is unit-tested on its own (``tests/unit/test_load_math.py``).

- **Ramp** (:func:`rate_steps`): offered rates on a Fibonacci-ish ladder (1, 2, 3, 5, 8, 13, 21, …) up to a cap.
- **Saturation** (:func:`passes`, :func:`saturation`): a step passes when the achieved rate is at least 95 % of
  the offered one, fewer than 1 % of its requests failed, and its p95 is within the path's bound; the saturation
  throughput is the highest passing step's *achieved* rate, counting only steps below the first failure.
- **Mix** (:func:`mix_capacity`): the saturation of a mix of paths, each request costing ``1/S`` of the
  bottleneck (a harmonic mean weighted by the shares).
- **Drift and growth** (:func:`drift_pct`, :func:`growth_pct`): relative change, in %, of the last window's p95
  against the first after warm-up; of the mean of the last ``n`` RSS samples against the first ``n`` after
  warm-up (a mean of a few samples, so one allocator hiccup does not decide it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from alice.slo import percentile

#: The ramp's ladder: Fibonacci numbers from 1 (the duplicate 1 left out).
FIB_RATES: tuple[int, ...] = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610)
MIN_ACHIEVED_SHARE = 0.95
MAX_ERROR_RATE = 0.01
GOLDEN_CONJUGATE = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class Outcome:
    """One request: when it was due (seconds since the phase began), its status (0: no answer) and latency
    (milliseconds from when it was due, so time spent waiting for a connection or a late send counts)."""

    due_s: float
    kind: str
    status: int
    ms: float
    cache_hit: bool = False
    lag_ms: float = 0.0  # how late the generator sent it (its own health, not the gateway's)

    @property
    def done_s(self) -> float:
        return self.due_s + self.ms / 1000

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class StepResult:
    """One ramp step, as measured."""

    offered_rps: float
    achieved_rps: float
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    #: How late the generator sent (p95, ms): large values mean the client, not the gateway, fell behind.
    send_lag_p95_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 1.0


def rate_steps(max_rps: float, start_rps: float = 1.0) -> list[int]:
    """The ladder's rates from ``start_rps`` up to ``max_rps`` inclusive."""
    return [r for r in FIB_RATES if start_rps <= r <= max_rps]


def refine_between(good: float, bad: float) -> int | None:
    """One extra step halfway between the last passing rate and the first failing one (None when they are too
    close for another whole rate)."""
    mid = math.floor((good + bad) / 2)
    return mid if good < mid < bad else None


def passes(step: StepResult, p95_bound_ms: float) -> bool:
    """The saturation rule for one step (see the module docstring)."""
    return (
        step.requests > 0
        and step.achieved_rps >= MIN_ACHIEVED_SHARE * step.offered_rps
        and step.error_rate < MAX_ERROR_RATE
        and step.p95_ms is not None
        and step.p95_ms <= p95_bound_ms
    )


def saturation(steps: Sequence[StepResult], p95_bound_ms: float) -> StepResult | None:
    """The highest-rate passing step among those offered below the lowest failing rate; None when none passed."""
    failing = [s.offered_rps for s in steps if not passes(s, p95_bound_ms)]
    ceiling = min(failing, default=math.inf)
    good = [s for s in steps if s.offered_rps < ceiling and passes(s, p95_bound_ms)]
    return max(good, key=lambda s: s.offered_rps, default=None)


def mix_capacity(shares: dict[str, float], capacities: dict[str, float]) -> float:
    """The saturation of a mix with these shares of requests, when each path alone saturates at its capacity."""
    total = sum(shares.values())
    if total <= 0 or any(capacities.get(k, 0.0) <= 0 for k, v in shares.items() if v > 0):
        return 0.0
    return total / sum(v / capacities[k] for k, v in shares.items() if v > 0)


def achieved_rps(outcomes: Sequence[Outcome]) -> float:
    """Successful answers per second, from the first answer to the last: an open loop sending ``r`` a second
    to a server that keeps up gets ``r`` back; one that queues spreads the answers out, and this falls."""
    done = sorted(o.done_s for o in outcomes if o.ok)
    if len(done) < 2 or done[-1] <= done[0]:
        return 0.0
    return round((len(done) - 1) / (done[-1] - done[0]), 2)


def step_result(outcomes: Sequence[Outcome], offered_rps: float) -> StepResult:
    """A step's numbers (achieved rate by :func:`achieved_rps`; latencies of the successful answers)."""
    ok = sorted(o.ms for o in outcomes if o.ok)
    errors = sum(1 for o in outcomes if not o.ok)
    return StepResult(
        offered_rps=offered_rps,
        achieved_rps=achieved_rps(outcomes),
        requests=len(outcomes),
        errors=errors,
        p50_ms=percentile(ok, 50),
        p95_ms=percentile(ok, 95),
        send_lag_p95_ms=percentile(sorted(o.lag_ms for o in outcomes), 95),
    )


def kind_at(i: int, shares: Sequence[tuple[str, float]]) -> str:
    """The kind of the ``i``-th request of a mix: the golden-ratio sequence ``frac(i / φ)`` (low discrepancy)
    falls into each kind's slice of [0, 1), so every stretch of the soak carries the mix's shares."""
    total = sum(share for _, share in shares)
    u = (i * GOLDEN_CONJUGATE) % 1.0
    cumulative = 0.0
    for kind, share in shares:
        cumulative += share / total
        if u < cumulative:
            return kind
    return shares[-1][0]


def window_stats(outcomes: Iterable[Outcome]) -> dict[str, object]:
    """Requests, errors by status, and p50/p95 overall and per kind (of the successful answers)."""
    items = list(outcomes)
    ok = sorted(o.ms for o in items if o.ok)
    out: dict[str, object] = {
        "requests": len(items),
        "errors": sum(1 for o in items if not o.ok),
        "errors_by_status": dict(sorted(Counter(str(o.status) for o in items if not o.ok).items())),
        "p50_ms": percentile(ok, 50),
        "p95_ms": percentile(ok, 95),
    }
    for kind in sorted({o.kind for o in items}):
        mine = sorted(o.ms for o in items if o.kind == kind and o.ok)
        out[kind] = {"n": len(mine), "p50_ms": percentile(mine, 50), "p95_ms": percentile(mine, 95)}
    return out


def windows(outcomes: Iterable[Outcome], window_s: float, span_s: float) -> list[list[Outcome]]:
    """Outcomes in consecutive windows of ``window_s`` by due time; only whole windows within ``span_s``."""
    count = int(span_s // window_s)
    out: list[list[Outcome]] = [[] for _ in range(count)]
    for o in outcomes:
        i = int(o.due_s // window_s)
        if 0 <= i < count:
            out[i].append(o)
    return out


def drift_pct(first: float | None, last: float | None) -> float | None:
    """``last`` relative to ``first`` in % (None when either is missing or ``first`` is 0)."""
    if first is None or last is None or first == 0:
        return None
    return round((last - first) / first * 100, 2)


def growth_pct(samples: Sequence[tuple[float, float]], warmup_s: float, n: int = 3) -> float | None:
    """Growth in % of a series of ``(seconds, value)`` after ``warmup_s``: the mean of the last ``n`` samples
    against the mean of the first ``n`` at or after the warm-up; None with fewer than ``2 n`` such samples."""
    after = [v for t, v in samples if t >= warmup_s and not math.isnan(v)]
    if len(after) < 2 * n:
        return None
    first = sum(after[:n]) / n
    last = sum(after[-n:]) / n
    return drift_pct(first, last)
