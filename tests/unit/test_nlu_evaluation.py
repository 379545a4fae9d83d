"""Scoring (accuracy after rejection vs. argmax, answered share, confusions, entity exact match), k-fold and
reading data files with clear errors; a fake embedder keeps it fast."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from nlu.datasets import DataFileError, read_intent_file, relabel_by_id
from nlu.embedder import l2_normalise
from nlu.evaluation import cross_validate, entity_exact_match, evaluate
from nlu.features import FeatureConfig
from nlu.intents import OUT_OF_SCOPE
from nlu.settings import NLUSettings
from nlu.thresholds import pick_thresholds
from nlu.training import TrainConfig, train


class WordEmbedder:
    name = "fake-words"
    dim = 6
    words = ("hej", "klockan", "timer", "väder", "lampa", "zzz")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = [[float(w in t.lower()) for w in self.words] for t in texts]
        return l2_normalise(np.array(rows) + 0.01)


ROWS = [
    *({"text": t, "intent": "greeting.hello"} for t in ("hej", "hej hej", "hej alice", "hej där", "hejsan hej")),
    *(
        {"text": t, "intent": "time.now"}
        for t in ("klockan?", "vad är klockan", "klockan nu", "säg klockan", "klockan")
    ),
    *({"text": t, "intent": "timer.set"} for t in ("timer", "sätt timer", "en timer", "timer nu", "starta timer")),
]


def _train(rows: Sequence[dict[str, str]]) -> object:
    config = TrainConfig(cv_folds=2, features=FeatureConfig(n_features=2**8))
    return train(rows, NLUSettings(), WordEmbedder(), config)


def test_evaluate_reports_accuracy_argmax_answered_and_confusions() -> None:
    model = _train(ROWS)
    test = [
        {"text": "hej!", "intent": "greeting.hello"},
        {"text": "klockan", "intent": "time.now"},
        {"text": "timer", "intent": "greeting.hello"},  # a deliberate miss
    ]
    scores = evaluate(model, test)  # type: ignore[arg-type]
    assert scores["n"] == 3
    assert scores["accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert scores["accuracy_argmax"] == pytest.approx(2 / 3, abs=1e-3)
    assert scores["answered"] == 1.0 and scores["answered_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert scores["confusions"] == [{"gold": "greeting.hello", "predicted": "timer.set", "count": 1}]
    assert scores["per_intent"]["greeting.hello"]["recall"] == 0.5
    assert "entity_exact_match" not in scores and "accuracy_definition" in scores


def test_cross_validate_two_folds() -> None:
    result = cross_validate(ROWS, 2, _train)  # type: ignore[arg-type]
    assert len(result["folds"]) == 2 and sum(f["n"] for f in result["folds"]) == len(ROWS)
    assert result["min_fold_accuracy"] <= result["accuracy"] <= 1.0
    assert result["accuracy"] >= 0.8


def test_entity_exact_match_compares_type_value_text() -> None:
    five = "sätt en timer på fem minuter"
    rows = [
        {"text": five, "entities": [{"type": "duration", "value": 300, "text": "fem minuter"}]},
        {"text": five, "entities": [{"type": "duration", "value": 60, "text": "fem minuter"}]},
        {"text": "hej", "entities": []},
        {"text": "imorgon", "now": "2025-01-01T12:00:00+01:00",
         "entities": [{"type": "date", "value": "2025-01-02", "text": "imorgon"}]},
    ]  # fmt: skip
    assert entity_exact_match(rows) == 0.75


def test_thresholds_respect_the_reject_budget_on_in_domain_rows() -> None:
    labels = ["a", OUT_OF_SCOPE, "b"]
    # 70 % right and confident-ish, 30 % wrong with the same confidence: precision 0.95 needs rejecting everything.
    probs = np.array([[0.6, 0.0, 0.4]] * 10)
    gold = np.array([0] * 7 + [2] * 3)
    conf, margin, scores = pick_thresholds(labels, probs, gold, 0.95, max_reject_rate=0.05)
    assert scores["in_domain_rejected"] <= 0.05 and scores["accuracy"] == 0.7
    conf_all, _, strict = pick_thresholds(labels, probs, gold, 0.95, max_reject_rate=1.0)
    assert strict["coverage"] == 0.0  # without a budget the precision target rejects everything


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_intent_file_errors_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="file not found"):
        read_intent_file(tmp_path / "missing.jsonl")
    bad = _write(tmp_path / "bad.jsonl", [json.dumps({"text": "hej", "intent": "greeting.hello"}), "{nope"])
    with pytest.raises(DataFileError, match=r"bad.jsonl: line 2 is not JSON"):
        read_intent_file(bad)
    no_text = _write(tmp_path / "notext.jsonl", ["", json.dumps({"intent": "x"})])
    with pytest.raises(DataFileError, match=r"line 2 has no 'text'"):
        read_intent_file(no_text)
    ok = _write(tmp_path / "ok.jsonl", [json.dumps({"text": "hej", "intent": "g", "extra": 1})])
    assert read_intent_file(ok) == [{"text": "hej", "intent": "g", "extra": 1}]


def test_held_out_files_are_never_training_files(tmp_path: Path) -> None:
    from nlu.datasets import is_training_file, load_training_rows

    row = [json.dumps({"text": "hej", "intent": "greeting.hello"})]
    for name in ("intents_sv.jsonl", "eval_sv.jsonl", "x.test.jsonl", "scenarios_map.json"):
        _write(tmp_path / name, row)
    assert [is_training_file(tmp_path / n) for n in ("intents_sv.jsonl", "eval_sv.jsonl", "x.test.jsonl")] == [
        True,
        False,
        False,
    ]
    assert len(load_training_rows(tmp_path)) == 1


def test_relabel_by_id_uses_prompt_or_text_and_refuses_a_foreign_map() -> None:
    rows = [{"id": "a", "prompt": "Hej!"}, {"id": "b", "text": "vad är klockan"}, {"id": "c", "prompt": "x"}]
    out = relabel_by_id(rows, [{"id": "a", "intent": "greeting.hello"}, {"id": "b", "intent": "time.now"}])
    assert out == [{"text": "Hej!", "intent": "greeting.hello"}, {"text": "vad är klockan", "intent": "time.now"}]
    with pytest.raises(DataFileError, match="1 labelled ids have no row"):
        relabel_by_id(rows, [{"id": "zzz", "intent": "time.now"}])


def test_prune_artifacts_keeps_the_newest_and_the_current(tmp_path: Path) -> None:
    import os

    from nlu.classifier import prune_artifacts

    for age, version in enumerate(["nlu-new", "nlu-mid", "nlu-old", "nlu-oldest"]):
        for suffix in (".json", ".npz"):
            path = tmp_path / f"{version}{suffix}"
            path.write_text("{}")
            os.utime(path, (1_000_000 - age * 10, 1_000_000 - age * 10))
    (tmp_path / "other.json").write_text("{}")
    removed = prune_artifacts(tmp_path, keep=2, current="nlu-oldest")
    assert sorted(removed) == ["nlu-mid", "nlu-old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "nlu-new.json", "nlu-new.npz", "nlu-oldest.json", "nlu-oldest.npz", "other.json"
    ]  # fmt: skip
