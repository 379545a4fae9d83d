"""Latency and success over sliding windows, and the service-level objectives they are held to.

:class:`LatencyWindows` keeps, per name (a chat route such as ``tool`` or ``cache``, else the HTTP route
template), the time, duration and success of recent requests: at most ``horizon_s`` old and ``max_samples`` per
name. :meth:`LatencyWindows.summary` gives count, p50/p95/p99 and the success rate over the last ``window_s``.

:func:`slo_report` holds each name to the seed plans' objectives (DESIGN §5): p95 ≤ 144 ms is ``ok``, ≤ 377 ms
``warning``, above ``critical`` (``FIB_ALERT_P95_WARNING_MS`` / ``…_CRITICAL_MS``) — only for routes that do
not wait on an LLM, whose seconds-long answers no millisecond objective fits; a success rate (no 5xx) of at
least 0.99 everywhere; and a cache hit rate target. The windows are per process: each replica reports its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from alice.samples import TimedSamples

#: Windows reported by default: the last minute, five minutes and fifteen minutes.
DEFAULT_WINDOWS_S: tuple[int, ...] = (60, 300, 900)
#: Chat routes that wait on the LLM: no millisecond latency objective applies to them.
LLM_ROUTES = frozenset({"micro", "planner", "deep"})
LEVELS = ("ok", "warning", "critical")


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of already sorted values; None for none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return round(sorted_values[rank - 1], 3)


class LatencyWindows:
    """Recent request durations by name (see the module docstring). One event loop; no locking needed."""

    def __init__(
        self, horizon_s: float = 900.0, max_samples: int = 20_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.horizon_s = horizon_s
        self.max_samples = max_samples
        self._clock = clock
        self._samples: dict[str, TimedSamples] = {}

    def record(self, name: str, duration_ms: float, ok: bool) -> None:
        now = self._clock()
        samples = self._samples.get(name)
        if samples is None:
            samples = self._samples[name] = TimedSamples(self.max_samples)
        samples.append(now, duration_ms, ok)
        while samples and samples.first()[0] < now - self.horizon_s:
            samples.popleft()

    def durations(self, window_s: float, include: Callable[[str], bool] | None = None) -> list[float]:
        """Sorted durations (ms) of the requests in the last ``window_s`` under the names ``include`` accepts."""
        since = self._clock() - window_s
        out = [
            ms
            for name, samples in self._samples.items()
            if include is None or include(name)
            for at, ms, _ok in samples
            if at >= since
        ]
        return sorted(out)

    def summary(self, window_s: float) -> dict[str, dict[str, Any]]:
        """Per name: ``count``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``success_rate`` over the last ``window_s``."""
        since = self._clock() - window_s
        out: dict[str, dict[str, Any]] = {}
        for name, samples in sorted(self._samples.items()):
            recent = [(ms, ok) for at, ms, ok in samples if at >= since]
            if not recent:
                continue
            durations = sorted(ms for ms, _ in recent)
            out[name] = {
                "count": len(recent),
                "p50_ms": percentile(durations, 50),
                "p95_ms": percentile(durations, 95),
                "p99_ms": percentile(durations, 99),
                "success_rate": round(sum(ok for _, ok in recent) / len(recent), 4),
            }
        return out


@dataclass(frozen=True)
class SloTargets:
    """The objectives (defaults from the seed plans, DESIGN §5)."""

    p95_warning_ms: float = 144.0
    p95_critical_ms: float = 377.0
    success_rate: float = 0.99
    cache_hit_rate: float | None = None


def latency_level(p95_ms: float | None, targets: SloTargets) -> str:
    if p95_ms is None or p95_ms <= targets.p95_warning_ms:
        return "ok"
    return "warning" if p95_ms <= targets.p95_critical_ms else "critical"


def _worst(levels: Iterable[str]) -> str:
    return max(levels, key=LEVELS.index, default="ok")


def slo_report(
    summary: dict[str, dict[str, Any]],
    targets: SloTargets,
    cache_hit_rate: float | None = None,
    llm_routes: frozenset[str] = LLM_ROUTES,
) -> dict[str, Any]:
    """Each name's status against ``targets``, the cache hit rate's, and the worst of all as ``status``."""
    routes: dict[str, dict[str, Any]] = {}
    for name, stats in summary.items():
        latency = "not_applicable" if name in llm_routes else latency_level(stats["p95_ms"], targets)
        success = "ok" if stats["success_rate"] >= targets.success_rate else "critical"
        routes[name] = {
            **stats,
            "latency": latency,
            "success": success,
            "status": _worst(s for s in (latency, success) if s in LEVELS),
        }
    cache: dict[str, Any] = {"hit_rate": cache_hit_rate, "target": targets.cache_hit_rate, "status": "ok"}
    if cache_hit_rate is not None and targets.cache_hit_rate is not None and cache_hit_rate < targets.cache_hit_rate:
        cache["status"] = "warning"
    return {
        "status": _worst([*(r["status"] for r in routes.values()), cache["status"]]),
        "targets": {
            "p95_warning_ms": targets.p95_warning_ms,
            "p95_critical_ms": targets.p95_critical_ms,
            "success_rate": targets.success_rate,
            "cache_hit_rate": targets.cache_hit_rate,
            "latency_not_applicable_to": sorted(llm_routes),
        },
        "routes": routes,
        "cache": cache,
    }
