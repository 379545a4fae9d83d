"""Training the intent classifier: ``train(rows, settings) -> IntentModel`` and ``load_or_train`` for start-up.

Recipe: embed every row (plus a lower-case copy without å/ä/ö, the way people type), pick the regularisation
strength and a softmax temperature on out-of-fold predictions (k-fold over the training rows, an augmented
copy always in its source row's fold), then pick the reject thresholds on the same out-of-fold predictions:
the smallest confidence/margin that keeps the precision of accepted labels at ``target_precision``. The test
sets never take part. The final model is fit on all rows.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import structlog
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from nlu.classifier import IntentArtifact, IntentModel, prune_artifacts, softmax
from nlu.cues import cue_digest
from nlu.datasets import Row, intent_rows, load_training_rows
from nlu.embedder import Embedder, create_embedder
from nlu.features import FeatureConfig, featurize, typed_variant
from nlu.settings import NLUSettings
from nlu.thresholds import pick_thresholds

log = structlog.get_logger("nlu.training")

Features: TypeAlias = np.ndarray | sparse.csr_matrix

#: Picked on out-of-fold NLL of the repo data (C in 4..64 and embedding weight 1..3 were tried, 16 and 3 won).
C_GRID = (16.0,)


@dataclass(frozen=True)
class TrainConfig:
    """What shapes a model besides its data; part of the artifact version."""

    c_grid: tuple[float, ...] = C_GRID
    features: FeatureConfig = field(default_factory=FeatureConfig)
    cv_folds: int = 5
    target_precision: float = 0.95
    max_reject_rate: float = 0.05
    min_confidence: float | None = None
    min_margin: float | None = None
    augment_ascii: bool = True
    seed: int = 0

    @classmethod
    def from_settings(cls, settings: NLUSettings) -> TrainConfig:
        """The training knobs of ``settings``."""
        return cls(
            cv_folds=settings.cv_folds,
            target_precision=settings.target_precision,
            max_reject_rate=settings.max_reject_rate,
            min_confidence=settings.min_confidence,
            min_margin=settings.min_margin,
            augment_ascii=settings.augment_ascii,
        )


def model_version(rows: Sequence[Row], config: TrainConfig, embedder_name: str) -> str:
    """``nlu-<12 hex>``: a hash of the training rows, the config and the embedder."""
    doc = {
        "rows": [[r["text"], r["intent"]] for r in rows],
        "config": asdict(config),
        "embedder": embedder_name,
        "cues": cue_digest() if config.features.cue_weight else None,
    }
    digest = hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return f"nlu-{digest[:12]}"


def augment(rows: Sequence[Row], enabled: bool) -> tuple[list[str], list[str], list[int]]:
    """Texts, labels and source-row groups, with one typed variant per row when it differs."""
    texts, labels, groups = [], [], []
    for i, row in enumerate(rows):
        variants = [row["text"]]
        if enabled and typed_variant(row["text"]) != row["text"]:
            variants.append(typed_variant(row["text"]))
        for text in variants:
            texts.append(text)
            labels.append(row["intent"])
            groups.append(i)
    return texts, labels, groups


def _fit(x: Features, y: np.ndarray, c: float) -> LogisticRegression:
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    clf.fit(x, y)
    return clf


def _logits(clf: LogisticRegression, x: Features, n_labels: int) -> np.ndarray:
    """Per-class logits in label order, also for the two-class case (sklearn keeps one row there)."""
    coef, intercept = _weights(clf)
    full = np.full((x.shape[0], n_labels), -1e9)
    full[:, clf.classes_] = np.asarray(x @ coef.T) + intercept
    return full


def _weights(clf: LogisticRegression) -> tuple[np.ndarray, np.ndarray]:
    coef, intercept = np.asarray(clf.coef_, dtype=np.float64), np.asarray(clf.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # binary: softmax([-z/2, z/2]) == sigmoid(z)
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept


def out_of_fold_logits(x: Features, y: np.ndarray, groups: np.ndarray, c: float, folds: int, seed: int) -> np.ndarray:
    """Logits for every row from a model that did not see that row's group."""
    n_labels = int(y.max()) + 1
    min_count = int(np.bincount(y).min())
    splitter = StratifiedGroupKFold(n_splits=max(2, min(folds, min_count)), shuffle=True, random_state=seed)
    out = np.zeros((x.shape[0], n_labels))
    with warnings.catch_warnings():
        # A label rarer than the fold count is still placed; its held-out rows just score low, as they should.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(splitter.split(x, y, groups))
    for train_idx, test_idx in splits:
        out[test_idx] = _logits(_fit(x[train_idx], y[train_idx], c), x[test_idx], n_labels)
    return out


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The softmax temperature minimising negative log-likelihood; returns (temperature, nll)."""

    def nll(log_t: float) -> float:
        probs = softmax(logits / np.exp(log_t))
        return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))

    result = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(result.x)), float(result.fun)


def train(
    train_rows: Sequence[Row],
    settings: NLUSettings | None = None,
    embedder: Embedder | None = None,
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> IntentModel:
    """Train a fresh model on ``{"text","intent"}`` rows (any label set); returns it with its embedder.

    ``model.artifact.save(dir)`` writes it; ``model.artifact.meta["dev"]`` holds the out-of-fold scores the
    thresholds were picked on.
    """
    settings = settings or NLUSettings()
    config = config or TrainConfig.from_settings(settings)
    embedder = embedder or create_embedder(settings.embedder, settings.embed_threads, settings.st_model)
    rows = intent_rows(train_rows)
    labels = tuple(sorted({r["intent"] for r in rows}))
    if len(labels) < 2:
        raise ValueError("training needs at least two intents")
    started = time.perf_counter()
    texts, names, groups = augment(rows, config.augment_ascii)
    log.info("nlu_train_embedding", rows=len(rows), texts=len(texts), labels=len(labels))
    say = progress or (lambda _msg: None)
    say(f"embedding {len(texts)} texts ({len(rows)} rows, {len(labels)} intents) with {embedder.name}")
    x = featurize(texts, embedder.embed(texts), config.features)
    say(f"cross-validating C in {list(config.c_grid)} over {config.cv_folds} folds")
    y = np.array([labels.index(n) for n in names])
    best = _select(x, y, np.array(groups), config)
    log.info("nlu_train_selected", c=best["c"], temperature=round(best["temperature"], 3), nll=best["nll"])
    probs = softmax(best["logits"] / best["temperature"])
    min_conf, min_margin, dev = pick_thresholds(
        labels, probs, y, config.target_precision, config.min_confidence, config.min_margin, config.max_reject_rate
    )
    say(f"thresholds: confidence >= {min_conf}, margin >= {min_margin}; fitting the final model")
    coef, intercept = _weights(_fit(x, y, best["c"]))
    meta = {"rows": len(rows), "texts": len(texts), "c": best["c"], "config": asdict(config), "dev": dev}
    meta["train_seconds"] = round(time.perf_counter() - started, 2)
    meta["trained_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    artifact = IntentArtifact(
        version=model_version(rows, config, embedder.name),
        embedder=embedder.name,
        labels=labels,
        coef=coef,
        intercept=intercept,
        temperature=best["temperature"],
        min_confidence=min_conf,
        min_margin=min_margin,
        features=config.features,
        meta=meta,
    )
    log.info("nlu_train_done", version=artifact.version, seconds=artifact.meta["train_seconds"], **dev)
    return IntentModel(artifact, embedder)


def _select(x: Features, y: np.ndarray, groups: np.ndarray, config: TrainConfig) -> dict[str, Any]:
    """The regularisation strength with the lowest calibrated out-of-fold NLL."""
    best: dict[str, Any] = {}
    for c in config.c_grid:
        logits = out_of_fold_logits(x, y, groups, c, config.cv_folds, config.seed)
        temperature, nll = fit_temperature(logits, y)
        log.info("nlu_train_cv", c=c, temperature=round(temperature, 3), nll=round(nll, 4))
        if not best or nll < best["nll"]:
            best = {"c": c, "temperature": temperature, "nll": round(nll, 4), "logits": logits}
    return best


def load_or_train(settings: NLUSettings, embedder: Embedder) -> IntentModel:
    """The artifact matching the current data + config, trained and saved first if it is missing."""
    rows = load_training_rows(settings.data_dir)
    config = TrainConfig.from_settings(settings)
    version = model_version(rows, config, embedder.name)
    json_path = artifact_path(settings, version)
    if json_path.is_file() and json_path.with_suffix(".npz").is_file():
        log.info("nlu_model_loading", version=version, path=str(json_path))
        return IntentModel(IntentArtifact.load(json_path), embedder)
    if not settings.train_on_start:
        raise FileNotFoundError(f"no NLU model {version} in {json_path.parent} and NLU_TRAIN_ON_START is off")
    log.info("nlu_model_training", version=version, rows=len(rows), path=str(json_path))
    model = train(rows, settings, embedder, config)
    model.artifact.save(json_path.parent)
    removed = prune_artifacts(json_path.parent, settings.keep_artifacts, version)
    if removed:
        log.info("nlu_artifacts_pruned", removed=removed, kept=settings.keep_artifacts)
    log.info("nlu_model_saved", version=version, path=str(json_path))
    return model


def artifact_path(settings: NLUSettings, version: str) -> Path:
    """Where ``version`` is stored for ``settings``."""
    return settings.resolved_model_dir() / f"{version}.json"
