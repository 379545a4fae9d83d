"""``alice bench load`` end to end in miniature: its own mesh behind Caddy with the fixed-latency LLM stand-in, a
short ramp of each path and a 15-second soak; the JSON it prints holds what docs/PERFORMANCE.md reads from it
(a full-length run is there)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from procs import REPO

pytestmark = [pytest.mark.e2e]


def test_a_tiny_load_run_ramps_both_paths_and_soaks_without_errors() -> None:
    args = ["--soak-s", "15", "--step-s", "3", "--max-rps", "5", "--warmup-s", "5", "--window-s", "5"]
    run = subprocess.run(
        [sys.executable, "-m", "alice.cli", "bench", "load", *args, "--rss-every-s", "1", "--delay", "0.1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "bench load: soak at" in run.stderr  # progress goes to stderr, the JSON alone to stdout
    result = json.loads(run.stdout.strip().splitlines()[-1])
    cached, uncached = result["paths"]["cached"], result["paths"]["uncached"]
    assert cached["questions"] >= 10
    # at these rates nothing saturates: the best step is the top of the ladder, and every step kept up
    for path in (cached, uncached):
        assert [s["offered_rps"] for s in path["steps"]] == [1, 2, 3, 5]
        assert path["saturation_offered_rps"] == 5
    assert all(route.endswith(", exact hit") for route in cached["routes"])  # repeats: the exact tier
    assert not any("hit" in route for route in uncached["routes"])  # unique questions reach the LLM stand-in
    assert result["llm"]["generations"] >= sum(s["requests"] for s in uncached["steps"])
    soak = result["soak"]
    assert soak["errors"] == 0 and soak["checks"]["no_errors"]
    assert soak["cached_hit_rate"] == 1.0 and soak["uncached_hit_rate"] == 0.0
    assert soak["rate_rps"] == pytest.approx(0.7 * soak["mix_saturation_rps"], abs=0.01)
    assert len(soak["windows"]) == 3 and soak["p95_drift_pct"] is not None
    rss = soak["memory"]["rss_mb"]
    assert {"caddy", "guardian", "orchestrator", "nlu", "redis"} <= set(rss)
    assert all(rss[s]["growth_pct"] is not None for s in ("guardian", "orchestrator"))
    assert soak["memory"]["data"]["cache_entries"]["by_window"][-1] > 0


def test_a_given_soak_rate_skips_the_ramp_and_keeps_records_below_the_warm_up() -> None:
    args = ["--soak-s", "8", "--soak-rps", "3", "--warmup-s", "2", "--window-s", "4", "--rss-every-s", "1"]
    run = subprocess.run(
        [sys.executable, "-m", "alice.cli", "bench", "load", *args, "--delay", "0.05"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "steps" not in result["paths"].get("cached", {}) and "uncached" not in result["paths"]
    assert result["config"]["soak_rps"] == 3 and result["config"]["retention_s"] == 30
    soak = result["soak"]
    assert soak["rate_rps"] == 3 and soak["mix_saturation_rps"] is None
    assert soak["requests"] == 24 and soak["errors"] == 0


def test_a_soak_rate_without_a_soak_is_refused() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "alice.cli", "bench", "load", "--soak-s", "0", "--soak-rps", "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and "--soak-rps" in run.stderr and "Traceback" not in run.stderr
