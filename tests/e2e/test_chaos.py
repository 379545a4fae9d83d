"""``alice chaos`` end to end with short outages: its own mesh, the three kills, the JSON it prints, and the
resilience checks it reports (docs/RESILIENCE.md has a full-length run)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from procs import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.llm]


def test_chaos_with_short_outages_reports_every_phase_and_holds_its_checks():
    run = subprocess.run(
        [sys.executable, "-m", "alice.cli", "chaos", "--outage-s", "6", "--baseline-s", "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(result["phases"]) == {"baseline", "nlu", "modelserver", "redis"}
    assert "chaos: killing redis" in run.stderr  # progress goes to stderr
    nlu, model, redis = (result["phases"][name] for name in ("nlu", "modelserver", "redis"))
    assert nlu["during"]["requests"] > 0 and model["during"]["tool"]["requests"] > 0
    assert redis["during"]["errors_5xx"] == 0, redis["during"]["error_codes"]
    assert model["during"]["tool"]["success_rate"] == 1.0
    assert set(model["during"]["error_codes"]) <= {"llm:503:dependency_down", "llm:503:circuit_open"}
    assert result["checks"]["breakers_closed_within_13_s"], (nlu, model)
