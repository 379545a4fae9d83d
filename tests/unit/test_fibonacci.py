import math

import pytest

from alice import fibonacci as fib
from alice.errors import ConfigError


def test_sequence_and_ratio():
    assert fib.FIBONACCI_SEQUENCE[:8] == (1, 1, 2, 3, 5, 8, 13, 21)
    assert len(fib.FIBONACCI_SEQUENCE) == 22 and fib.FIBONACCI_SEQUENCE[-1] == 17711
    assert fib.GOLDEN_RATIO == pytest.approx(1.618033988749895)
    assert fib.PHI_INVERSE == pytest.approx(0.618, abs=1e-3)
    assert fib.PHI_INVERSE_COMPLEMENT == pytest.approx(0.382, abs=1e-3)


def test_routing_weights():
    assert [fib.get_fibonacci_weight(r) for r in ("micro", "planner", "deep", "hybrid", "massive")] == [
        1,
        2,
        3,
        5,
        55,
    ]
    with pytest.raises(ValueError, match="unknown route"):
        fib.get_fibonacci_weight("nope")


def test_cache_ttls_default_and_clamped():
    cfg = fib.load_fibonacci_config()
    assert [fib.get_cache_ttl(t, cfg) // 3600 for t in range(1, 11)] == [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    assert fib.get_cache_ttl(99, cfg) == 89 * 3600
    assert fib.get_cache_ttl(0, cfg) == 3600


def test_retry_backoff_and_breaker():
    cfg = fib.load_fibonacci_config()
    assert [fib.get_retry_backoff(a, cfg) for a in range(1, 9)] == [1, 1, 2, 3, 5, 8, 8, 8]
    assert [fib.get_breaker_open_time(t, cfg) for t in range(1, 8)] == [1, 2, 3, 5, 8, 13, 13]
    assert cfg.fib_retry_max_attempts == 8


def test_env_override(monkeypatch):
    monkeypatch.setenv("FIB_CACHE_TTLS_H", "2, 4, 8")
    monkeypatch.setenv("FIB_RETRY_DELAYS", "0.5,1")
    cfg = fib.load_fibonacci_config()
    assert cfg.fib_cache_ttls_h == [2, 4, 8]
    assert fib.get_retry_backoff(5, cfg) == 1.0


@pytest.mark.parametrize("bad", ["1,two,3", "5,3,1", "0,1", "", "-1"])
def test_malformed_override_stops_with_clear_message(monkeypatch, bad):
    monkeypatch.setenv("FIB_CACHE_TTLS_H", bad)
    with pytest.raises(ConfigError, match="FIB_CACHE_TTLS_H"):
        fib.load_fibonacci_config()


def test_golden_thresholds_and_allocation():
    assert fib.calculate_golden_ratio_threshold(100, "low") == pytest.approx(38.2, abs=0.01)
    assert fib.calculate_golden_ratio_threshold(100, "critical") == pytest.approx(261.8, abs=0.01)
    parts = fib.get_optimal_resource_allocation(100, 3)
    assert sum(parts) == pytest.approx(100)
    assert parts[0] / parts[1] == pytest.approx(fib.GOLDEN_RATIO)


def test_scaling_memory_progression():
    assert fib.get_fibonacci_scaling_sequence(1, 21) == [1, 2, 3, 5, 8, 13, 21]
    assert [fib.get_memory_window(level) for level in (1, 2, 3, 4, 5)] == [1, 2, 3, 5, 8]
    assert fib.fibonacci_progression(5) == [1, 1, 2, 3, 5]
    with pytest.raises(ValueError):
        fib.get_fibonacci_scaling_sequence(5, 1)


def test_phi_weights_and_lattice():
    cfg = fib.load_fibonacci_config()
    w = fib.phi_weights(3, cfg)
    assert w[0] == pytest.approx(fib.GOLDEN_RATIO) and w[1] == pytest.approx(fib.PHI_INVERSE)
    assert w[2] == pytest.approx(fib.PHI_INVERSE**2)
    pts = fib.golden_angle_lattice(89)
    assert len(pts) == 89 and all(0 < r <= 1 for r, _ in pts)
    assert pts[1][1] - pts[0][1] == pytest.approx(fib.GOLDEN_ANGLE_RAD)
    assert math.isclose(fib.LATENCY_BUCKETS_MS[0], 1) and 987 in fib.LATENCY_BUCKETS_MS


def test_scaler_thresholds_steps_and_cooldowns():
    up, down = fib.scaling_thresholds(100)
    assert up == pytest.approx(161.8, abs=0.1) and down == pytest.approx(61.8, abs=0.1)
    assert [fib.next_replica_count(n, +1) for n in (1, 2, 3, 4, 5, 89)] == [2, 3, 5, 5, 8, 89]
    assert [fib.next_replica_count(n, -1) for n in (1, 2, 5, 6, 8)] == [1, 1, 3, 5, 5]
    cfg = fib.load_fibonacci_config()
    assert (cfg.fib_scaler_cooldown_up_s, cfg.fib_scaler_cooldown_down_s, cfg.fib_scaler_cooldown_emergency_s) == (
        180,
        480,
        60,
    )
