"""Rejection below the thresholds, threshold picking and training end-to-end with a fake embedder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from nlu.classifier import IntentArtifact, decide
from nlu.embedder import l2_normalise
from nlu.evaluation import evaluate
from nlu.features import FeatureConfig
from nlu.intents import OUT_OF_SCOPE
from nlu.settings import NLUSettings
from nlu.thresholds import REJECTED, apply_thresholds, pick_thresholds
from nlu.training import TrainConfig, model_version, train

LABELS = ("greeting.hello", OUT_OF_SCOPE, "time.now")


class KeywordEmbedder:
    """A fake embedder for pure-logic tests: one axis per keyword, plus a little text-dependent noise."""

    name = "fake-keywords"
    dim = 8
    keywords = ("hej", "klockan", "tid", "hallå", "asdf", "qwe", "zzz", "tjena")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            vec = np.array([float(k in text.lower()) for k in self.keywords]) + 0.01
            vec += np.random.default_rng(len(text)).normal(0, 0.05, self.dim)
            rows.append(vec)
        return l2_normalise(np.array(rows))


def test_decide_accepts_a_confident_label() -> None:
    prediction = decide(LABELS, np.array([0.05, 0.05, 0.9]), min_confidence=0.6, min_margin=0.1)
    assert (prediction.label, prediction.confidence, prediction.accepted) == ("time.now", 0.9, True)
    assert prediction.alternatives(3) == [("greeting.hello", 0.05), (OUT_OF_SCOPE, 0.05)]


def test_decide_rejects_below_confidence_as_out_of_scope() -> None:
    prediction = decide(LABELS, np.array([0.45, 0.1, 0.45 + 1e-9]), min_confidence=0.6, min_margin=0.0)
    assert prediction.label == OUT_OF_SCOPE
    assert not prediction.accepted
    assert prediction.confidence == pytest.approx(0.55, abs=1e-3)
    assert [label for label, _ in prediction.alternatives(2)] == ["time.now", "greeting.hello"]


def test_decide_rejects_a_narrow_margin_even_when_confident_enough() -> None:
    prediction = decide(LABELS, np.array([0.48, 0.0, 0.52]), min_confidence=0.5, min_margin=0.1)
    assert prediction.label == OUT_OF_SCOPE and not prediction.accepted


def test_out_of_scope_as_top_label_is_never_accepted() -> None:
    prediction = decide(LABELS, np.array([0.1, 0.8, 0.1]), min_confidence=0.0, min_margin=0.0)
    assert (prediction.label, prediction.confidence, prediction.accepted) == (OUT_OF_SCOPE, 0.8, False)


def test_apply_thresholds_marks_rejections() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.3, 0.3], [0.1, 0.8, 0.1]])
    assert apply_thresholds(list(LABELS), probs, 0.5, 0.0).tolist() == [0, REJECTED, REJECTED]


def test_pick_thresholds_meets_the_precision_target() -> None:
    # Confident rows are right, unsure rows are wrong: the pick must cut between them.
    probs = np.array([[0.95, 0.0, 0.05]] * 8 + [[0.55, 0.0, 0.45]] * 4)
    gold = np.array([0] * 8 + [2] * 4)
    conf, margin, scores = pick_thresholds(list(LABELS), probs, gold, target_precision=0.95)
    assert 0.55 < conf <= 0.95 or margin > 0.1
    assert scores["accepted_precision"] >= 0.95
    assert scores["coverage"] == pytest.approx(8 / 12, abs=1e-3)


def test_fixed_thresholds_from_settings_are_kept() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.1, 0.7]])
    conf, margin, _ = pick_thresholds(list(LABELS), probs, np.array([0, 2]), 0.9, 0.42, 0.07)
    assert (conf, margin) == (0.42, 0.07)


def _rows() -> list[dict[str, str]]:
    greet = ["hej", "hej alice", "hallå", "hallå där", "tjena", "hej hej", "tjena alice", "hallå alice"]
    time_ = ["klockan?", "vad är klockan", "tid nu", "hur mycket är klockan", "vilken tid", "klockan nu", "tid?"]
    junk = ["asdf", "qwe qwe", "zzz", "asdf qwe", "zzz zzz", "qwe", "asdf zzz"]
    return (
        [{"text": t, "intent": "greeting.hello"} for t in greet]
        + [{"text": t, "intent": "time.now"} for t in time_]
        + [{"text": t, "intent": OUT_OF_SCOPE} for t in junk]
    )


@pytest.fixture(scope="module")
def trained() -> object:
    settings = NLUSettings(cv_folds=3, target_precision=0.9)
    config = TrainConfig(cv_folds=3, target_precision=0.9, features=FeatureConfig(n_features=2**10))
    return train(_rows(), settings, KeywordEmbedder(), config)


def test_training_with_a_fake_embedder_learns_and_rejects(trained: object, tmp_path: Path) -> None:
    from nlu.classifier import IntentModel

    assert isinstance(trained, IntentModel)
    out = trained.classify(["hej alice!", "vad är klockan nu", "zzz asdf"]).predictions
    assert [p.label for p in out] == ["greeting.hello", "time.now", OUT_OF_SCOPE]
    assert out[0].accepted and out[1].accepted and not out[2].accepted
    scores = evaluate(trained, [{"text": "hej", "intent": "greeting.hello"}, {"text": "tid", "intent": "time.now"}])
    assert scores["n"] == 2 and scores["accuracy"] == 1.0 and scores["p95_ms"] >= scores["p50_ms"] >= 0


def test_artifact_round_trip_gives_identical_probabilities(trained: object, tmp_path: Path) -> None:
    from nlu.classifier import IntentModel

    assert isinstance(trained, IntentModel)
    path = trained.artifact.save(tmp_path)
    loaded = IntentArtifact.load(path)
    texts = ["hej", "klockan"]
    emb = KeywordEmbedder().embed(texts)
    assert loaded.version == trained.version and path.name == f"{trained.version}.json"
    np.testing.assert_allclose(loaded.probabilities(texts, emb), trained.artifact.probabilities(texts, emb), 1e-5)


def test_version_changes_with_data_and_config() -> None:
    rows = _rows()
    base = model_version(rows, TrainConfig(), "e")
    assert base.startswith("nlu-") and base == model_version(list(rows), TrainConfig(), "e")
    assert model_version(rows[:-1], TrainConfig(), "e") != base
    assert model_version(rows, TrainConfig(target_precision=0.9), "e") != base
    assert model_version(rows, TrainConfig(), "other-embedder") != base
