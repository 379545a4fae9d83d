"""The trained intent classifier: a linear softmax over sentence embeddings, temperature-calibrated, with a
reject option.

An :class:`IntentArtifact` is plain numbers (weights in ``<version>.npz``, everything else in
``<version>.json``): no pickle, nothing executed on load. :class:`IntentModel` pairs it with an embedder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlu.embedder import Embedder
from nlu.features import FeatureConfig, linear_scores
from nlu.intents import OUT_OF_SCOPE

#: 2: cue columns after the n-grams (``FeatureConfig.cue_weight``).
ARTIFACT_FORMAT = 2


@dataclass(frozen=True)
class Prediction:
    """One decision: the label (``out_of_scope`` when rejected), its confidence and the full ranking."""

    label: str
    confidence: float
    accepted: bool
    ranking: tuple[tuple[str, float], ...]

    def alternatives(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable labels other than the one returned."""
        return [(lbl, p) for lbl, p in self.ranking if lbl != self.label][:k]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float64)


def decide(labels: Sequence[str], probs: np.ndarray, min_confidence: float, min_margin: float) -> Prediction:
    """Turn one probability row into a decision; below either threshold the answer is ``out_of_scope``.

    A rejected prediction's confidence is the probability that the best guess is wrong (``1 - p_top``), or
    ``p_top`` when the best guess already is ``out_of_scope``.
    """
    order = np.argsort(-probs)
    ranking = tuple((labels[i], round(float(probs[i]), 4)) for i in order)
    top_label, top_p = labels[order[0]], float(probs[order[0]])
    second_p = float(probs[order[1]]) if len(order) > 1 else 0.0
    if top_label == OUT_OF_SCOPE:
        return Prediction(OUT_OF_SCOPE, round(top_p, 4), False, ranking)
    if top_p >= min_confidence and top_p - second_p >= min_margin:
        return Prediction(top_label, round(top_p, 4), True, ranking)
    return Prediction(OUT_OF_SCOPE, round(1.0 - top_p, 4), False, ranking)


@dataclass
class IntentArtifact:
    """Everything needed to classify an embedding; written and read by :meth:`save` / :meth:`load`."""

    version: str
    embedder: str
    labels: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float
    min_confidence: float
    min_margin: float
    features: FeatureConfig = field(default_factory=FeatureConfig)
    meta: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, one row per text (with its embedding)."""
        logits = linear_scores(texts, embeddings, self.features, self.coef, self.intercept)
        return softmax(logits / self.temperature)

    def predict(self, texts: Sequence[str], embeddings: np.ndarray) -> list[Prediction]:
        """Decisions for a batch of texts and their embeddings."""
        probs = self.probabilities(texts, embeddings)
        return [decide(self.labels, row, self.min_confidence, self.min_margin) for row in probs]

    def paths(self, directory: Path) -> tuple[Path, Path]:
        """Where this version's weights and metadata live in ``directory``."""
        return directory / f"{self.version}.npz", directory / f"{self.version}.json"

    def save(self, directory: Path) -> Path:
        """Write the artifact atomically (temporary files, then rename); returns the JSON path."""
        directory.mkdir(parents=True, exist_ok=True)
        npz_path, json_path = self.paths(directory)
        tmp_npz = npz_path.with_name(f".{npz_path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp_npz, coef=self.coef.astype(np.float32), intercept=self.intercept)
        os.replace(tmp_npz, npz_path)
        doc = {
            "format": ARTIFACT_FORMAT,
            "version": self.version,
            "embedder": self.embedder,
            "labels": list(self.labels),
            "temperature": self.temperature,
            "min_confidence": self.min_confidence,
            "min_margin": self.min_margin,
            "features": asdict(self.features),
            "meta": self.meta,
        }
        tmp_json = json_path.with_name(f".{json_path.name}.{os.getpid()}.tmp")
        tmp_json.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
        os.replace(tmp_json, json_path)
        return json_path

    @classmethod
    def load(cls, json_path: Path) -> IntentArtifact:
        """Read an artifact written by :meth:`save`."""
        doc = json.loads(json_path.read_text())
        if doc.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"{json_path}: unsupported artifact format {doc.get('format')!r}")
        with np.load(json_path.with_suffix(".npz"), allow_pickle=False) as arrays:
            coef = np.array(arrays["coef"], dtype=np.float64)
            intercept = np.array(arrays["intercept"], dtype=np.float64)
        return cls(
            version=doc["version"],
            embedder=doc["embedder"],
            labels=tuple(doc["labels"]),
            coef=coef,
            intercept=intercept,
            temperature=float(doc["temperature"]),
            min_confidence=float(doc["min_confidence"]),
            min_margin=float(doc["min_margin"]),
            features=FeatureConfig(**doc["features"]),
            meta=dict(doc.get("meta") or {}),
        )


def prune_artifacts(directory: Path, keep: int, current: str) -> list[str]:
    """Remove all but the ``keep`` newest artifact versions in ``directory`` (``current`` always stays);
    returns the removed versions."""
    versions = sorted(directory.glob("nlu-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    removed: list[str] = []
    kept = 0
    for json_path in versions:
        version = json_path.stem
        if version == current or kept < keep - 1:
            kept += version != current
            continue
        json_path.unlink(missing_ok=True)
        json_path.with_suffix(".npz").unlink(missing_ok=True)
        removed.append(version)
    return removed


@dataclass(frozen=True)
class Classified:
    """A batch result: decisions, the embeddings they came from and how long each stage took (ms)."""

    predictions: list[Prediction]
    embeddings: np.ndarray
    embed_ms: float
    classify_ms: float


class IntentModel:
    """An artifact with the embedder it was trained on: text in, decisions out."""

    def __init__(self, artifact: IntentArtifact, embedder: Embedder) -> None:
        if artifact.embedder != embedder.name:
            raise ValueError(f"artifact was trained on {artifact.embedder!r}, not {embedder.name!r}")
        self.artifact = artifact
        self.embedder = embedder

    @property
    def version(self) -> str:
        return self.artifact.version

    def classify(self, texts: Sequence[str]) -> Classified:
        """Embed and classify ``texts`` (blocking: run it off the event loop)."""
        start = time.perf_counter()
        embeddings = self.embedder.embed(texts)
        embedded = time.perf_counter()
        predictions = self.artifact.predict(texts, embeddings)
        done = time.perf_counter()
        return Classified(predictions, embeddings, (embedded - start) * 1000, (done - embedded) * 1000)
