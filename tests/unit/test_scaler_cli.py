"""``alice scale`` (recommendations → backend dry runs) and ``alice bench scaler`` (the simulation)."""

from __future__ import annotations

import json
import math
from collections import deque
from pathlib import Path
from typing import Any

import kubernetes_validate
import numpy as np
import pytest
from typer.testing import CliRunner

from alice.cli import app
from alice.cli.scalecmd import changes, parse_names, read_recommendations
from alice.cli.scalerbench import TRACES, CapacityModel, _Deployment, arrivals, base_rate, bench_scaler
from alice.errors import ConfigError

INSPECT = Path(__file__).resolve().parents[1] / "data" / "scaling" / "docker_inspect_nlu.json"
RECOMMENDATIONS = {
    "services": [
        {"service": "orchestrator", "current": 1, "recommended": 1, "action": "hold", "confidence": 1.0, "reason": "-"},
        {"service": "nlu", "current": 1, "recommended": 2, "action": "up", "confidence": 0.8, "reason": "busy"},
        {"service": "modelserver", "current": 3, "recommended": 2, "action": "down", "confidence": 0.4, "reason": "-"},
    ]
}


@pytest.fixture
def recommendations(tmp_path: Path) -> Path:
    path = tmp_path / "recommendations.json"
    path.write_text(json.dumps(RECOMMENDATIONS))
    return path


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_scale_kubernetes_dry_run_prints_one_valid_patch_per_change(recommendations: Path) -> None:
    result = CliRunner().invoke(
        app, ["scale", "--backend", "kubernetes", "--from", str(recommendations), "--name", "modelserver=ollama"]
    )
    assert result.exit_code == 0, result.output
    lines = _lines(result.stdout)
    assert [(line["service"], line["deployment"], line["replicas"]) for line in lines] == [
        ("nlu", "alice-nlu", 2),
        ("modelserver", "ollama", 2),
    ]
    for line in lines:
        assert line["method"] == "PATCH" and line["path"].endswith(f"/deployments/{line['deployment']}/scale")
        kubernetes_validate.validate(line["body"], "1.30", strict=True)


def test_scale_docker_dry_run_from_inspect_output(recommendations: Path) -> None:
    args = ["scale", "--backend", "docker", "--from", str(recommendations), "--inspect", str(INSPECT)]
    result = CliRunner().invoke(app, [*args, "--service", "nlu"])
    assert result.exit_code == 0, result.output
    lines = _lines(result.stdout)
    assert [(line["method"], line["path"]) for line in lines] == [
        ("POST", "/v1.45/containers/create"),
        ("POST", "/v1.45/containers/ID-OF-alice-nlu-2/start"),
    ]
    assert "ALICE_INTERNAL_SECRET=<redacted>" in lines[0]["body"]["Env"]
    # the model server has no replica in that inspect output: nothing to copy, a clear error
    failed = CliRunner().invoke(app, args)
    assert failed.exit_code != 0 and "no container of compose service alice/modelserver" in str(failed.exception)


def test_min_confidence_and_service_filters() -> None:
    todo = changes(RECOMMENDATIONS["services"], [], 0.5)
    assert [c.service for c in todo] == ["nlu"]
    assert [c.service for c in changes(RECOMMENDATIONS["services"], ["modelserver"], 0.0)] == ["modelserver"]


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"services": "x"}), json.dumps({"services": [{"service": "nlu"}]})],
)
def test_bad_recommendations_are_config_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ConfigError):
        changes(read_recommendations(path, "", None), [], 0.0)


def test_names_and_unreachable_mesh() -> None:
    assert parse_names(["nlu=alice-nlu-v2"]) == {"nlu": "alice-nlu-v2"}
    with pytest.raises(ConfigError):
        parse_names(["nlu"])
    with pytest.raises(ConfigError, match="cannot reach Alice"):
        read_recommendations(None, "http://127.0.0.1:9", "key")


# -- the bench -----------------------------------------------------------------------------------------------


def test_capacity_model() -> None:
    model = CapacityModel()
    assert model.violation_utilisation == pytest.approx(0.792, abs=1e-3)
    assert model.p95_ms(79, 1) < 144 < model.p95_ms(80, 1)
    assert math.isinf(model.p95_ms(100, 1)) and math.isinf(model.p95_ms(250, 2))


def test_traces() -> None:
    assert base_rate("daily", 4 * 60) == pytest.approx(40) and base_rate("daily", 16 * 60) == pytest.approx(600)
    assert base_rate("spike", 7 * 60) == 150 and base_rate("spike", 8 * 60 + 5) == 1200
    counts = arrivals("steady", 1440, 0.1, np.random.default_rng(1))
    assert counts.mean() / 60 == pytest.approx(250, rel=0.02)
    with pytest.raises(ValueError):
        base_rate("weekly", 0)


def test_new_replicas_serve_after_start_up_and_removal_cancels_starting_ones_first() -> None:
    deployment = _Deployment(desired=2, serving=2, starting=deque())
    deployment.resize(5, minute=0, startup_min=1)
    deployment.tick(1)
    assert (deployment.desired, deployment.serving) == (5, 2)
    deployment.tick(2)
    assert deployment.serving == 5
    deployment.resize(8, minute=2, startup_min=1)
    deployment.resize(4, minute=2, startup_min=1)  # the 3 starting go first, then one serving
    assert (deployment.desired, deployment.serving, list(deployment.starting)) == (4, 4, [])


def test_bench_is_deterministic_and_reports_ratios() -> None:
    first, again = bench_scaler(minutes=240, seed=3), bench_scaler(minutes=240, seed=3)
    assert first == again
    assert set(first["traces"]) == set(TRACES)
    for trace in first["traces"].values():
        fib, prop = trace["fibonacci"], trace["proportional"]
        assert fib["replica_minutes"] > 0 and prop["replica_minutes"] > 0
        assert trace["ratio_replica_minutes"] == pytest.approx(
            fib["replica_minutes"] / prop["replica_minutes"], abs=1e-4
        )
        assert fib["changes"] <= prop["changes"]  # the band and the cooldowns: fewer changes
    assert bench_scaler(minutes=240, seed=4) != first
    result = CliRunner().invoke(app, ["bench", "scaler", "--minutes", "120"])
    assert result.exit_code == 0 and json.loads(result.stdout.splitlines()[-1])["bench"] == "scaler"
