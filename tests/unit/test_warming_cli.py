"""``alice predict train`` on JSONL telemetry (what an operator runs), its clear errors, and the synthetic workload
of ``alice bench warmup``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alice.cli import app
from alice.cli.warmupload import DATA, TENANTS, WorkloadConfig, generate, utterances
from orchestrator.warming.model import MODEL_FILE, WarmingModel


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command configures logging onto the runner's stderr, which is closed afterwards: later tests' log lines
    would fail, so the configuration is left as it is here."""
    monkeypatch.setattr("alice.logs.configure_logging", lambda *_args, **_kwargs: None)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(sessions: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for n in range(sessions):
        ts = 1_780_000_000 + n * 5000
        for k, intent in enumerate(("greeting.hello", "info.query", "smalltalk")):
            rows.append({"ts": ts + 40 * k, "tenant": "acme", "session": f"s{n}", "intent": intent, "question": "hej"})
    return rows


def test_predict_train_writes_a_model_and_prints_one_json_line(tmp_path: Path) -> None:
    data = _write(tmp_path / "events.jsonl", _rows(40))
    result = CliRunner().invoke(app, ["predict", "train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["source"] == "files" and report["rows"] == 80 and report["sessions"] == 40
    assert report["params"]["n_estimators"] == 55 and report["held_out"]["rows"] == 16
    assert set(report["held_out"]) == {"rows", "forest", "transition_baseline", "frequency_baseline"}
    model = WarmingModel.load(tmp_path / "m" / MODEL_FILE)
    assert model.classes == ("info.query", "smalltalk")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "no telemetry in"),
        (_rows(3), "not enough telemetry"),
        ([{"ts": "soon", "tenant": "a", "session": "s"}], "events.jsonl:1: bad event"),
    ],
)
def test_predict_train_refuses_unusable_data(tmp_path: Path, rows: list[dict[str, object]], message: str) -> None:
    data = _write(tmp_path / "events.jsonl", rows)
    result = CliRunner().invoke(app, ["predict", "train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0 and message in str(result.exception)
    assert not (tmp_path / "m").exists()


def test_the_bench_workload_is_seeded_and_made_of_alices_own_sentences() -> None:
    texts = utterances()
    config = WorkloadConfig(train_days=4, replay_days=2)
    training, replay = generate(config, texts)
    assert (training, replay) == generate(config, texts)
    assert generate(WorkloadConfig(train_days=4, replay_days=2, seed=8), texts) != (training, replay)
    own = {t for sentences in texts.values() for t in sentences}
    assert DATA.name == "intents_sv.jsonl" and all(r.text in own for r in (*training, *replay))
    assert training and replay and max(r.ts for r in training) < min(r.ts for r in replay)
    assert {r.tenant for r in training} == set(TENANTS)
