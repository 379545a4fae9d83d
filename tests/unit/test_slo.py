"""Sliding latency windows and the SLO report (pure logic, a made-up clock)."""

from __future__ import annotations

from alice.slo import LatencyWindows, SloTargets, latency_level, percentile, slo_report


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([], 95) is None and percentile([7.0], 99) == 7.0


def test_windows_keep_recent_requests_per_name() -> None:
    clock = Clock()
    windows = LatencyWindows(horizon_s=900, clock=clock)
    for ms in range(1, 21):
        windows.record("tool", float(ms), ok=True)
    windows.record("tool", 500.0, ok=False)
    clock.now += 120  # two minutes later
    windows.record("micro", 2500.0, ok=True)
    last_minute, last_five = windows.summary(60), windows.summary(300)
    assert set(last_minute) == {"micro"}
    assert last_five["tool"]["count"] == 21 and last_five["tool"]["success_rate"] == round(20 / 21, 4)
    assert last_five["tool"]["p50_ms"] == 11.0 and last_five["tool"]["p99_ms"] == 500.0
    clock.now += 1000
    windows.record("micro", 1.0, ok=True)  # recording trims what left the horizon
    assert windows.summary(900000)["micro"]["count"] == 1 and windows.summary(900000)["tool"]["count"] == 21


def test_the_report_holds_fast_routes_to_the_latency_objective_and_every_route_to_success() -> None:
    targets = SloTargets(cache_hit_rate=0.7)
    assert [latency_level(v, targets) for v in (None, 144, 145, 377, 378)] == [
        "ok",
        "ok",
        "warning",
        "warning",
        "critical",
    ]
    summary = {
        "tool": {"count": 100, "p50_ms": 20.0, "p95_ms": 200.0, "p99_ms": 300.0, "success_rate": 1.0},
        "deep": {"count": 10, "p50_ms": 9000.0, "p95_ms": 20000.0, "p99_ms": 20000.0, "success_rate": 0.9},
        "cache": {"count": 50, "p50_ms": 3.0, "p95_ms": 5.0, "p99_ms": 6.0, "success_rate": 1.0},
    }
    report = slo_report(summary, targets, cache_hit_rate=0.31)
    assert report["routes"]["tool"]["latency"] == "warning" and report["routes"]["tool"]["status"] == "warning"
    assert report["routes"]["deep"]["latency"] == "not_applicable"
    assert report["routes"]["deep"]["success"] == "critical" and report["status"] == "critical"
    assert report["cache"] == {"hit_rate": 0.31, "target": 0.7, "status": "warning"}
    calm = slo_report({"cache": summary["cache"]}, targets, cache_hit_rate=0.8)
    assert calm["status"] == "ok"
