"""Measuring a trained model: what ``alice eval nlu`` prints.

``accuracy`` is the share of rows whose answered label equals the gold label, where the answered label is what
the service would return: the classifier's top label, or ``out_of_scope`` when the reject thresholds fire. A
rejection therefore counts as wrong unless the gold label is ``out_of_scope``. ``accuracy_argmax`` ignores the
thresholds (the top label, always); ``answered`` is the share not rejected and ``answered_accuracy`` the
accuracy among those. ``macro_f1`` is over the answered labels, like ``accuracy``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from nlu.classifier import IntentModel
from nlu.datasets import Row
from nlu.entities import extract_entities
from nlu.intents import OUT_OF_SCOPE

ACCURACY_DEFINITION = (
    "accuracy: share of rows whose answered label (top label, or out_of_scope when rejected) equals the gold label;"
    " accuracy_argmax ignores rejection; answered: share not rejected; answered_accuracy: accuracy among those"
)


def percentile_ms(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``samples`` (milliseconds), 0.0 when empty."""
    return round(float(np.percentile(samples, q)), 2) if samples else 0.0


def evaluate(model: IntentModel, rows: Sequence[Row], max_errors: int = 0) -> dict[str, Any]:
    """Classify each row on its own (as the service would) and score it against its gold ``intent``.

    Returns ``accuracy``, ``accuracy_argmax``, ``answered``, ``answered_accuracy``, ``macro_f1``, ``n``,
    per-sentence latency ``p50_ms``/``p95_ms`` (embed + classify), ``per_intent`` precision/recall/F1 and the
    most frequent ``confusions``; with gold ``entities`` on the rows also ``entity_exact_match``.
    """
    gold = [str(r["intent"]) for r in rows]
    predicted, top1, latencies = [], [], []
    for row in rows:
        start = time.perf_counter()
        prediction = model.classify([row["text"]]).predictions[0]
        latencies.append((time.perf_counter() - start) * 1000)
        predicted.append(prediction.label)
        top1.append(prediction.ranking[0][0])
    answered = [p != OUT_OF_SCOPE for p in predicted]
    result: dict[str, Any] = {
        "n": len(rows),
        "accuracy": _mean([p == g for p, g in zip(predicted, gold, strict=True)]),
        "accuracy_argmax": _mean([t == g for t, g in zip(top1, gold, strict=True)]),
        "answered": _mean(answered),
        "answered_accuracy": _mean([p == g for p, g, a in zip(predicted, gold, answered, strict=True) if a]),
        "macro_f1": round(float(f1_score(gold, predicted, average="macro", zero_division=0)), 4) if rows else 0.0,
        "p50_ms": percentile_ms(latencies, 50),
        "p95_ms": percentile_ms(latencies, 95),
        "model_version": model.version,
        "accuracy_definition": ACCURACY_DEFINITION,
    }
    with_entities = [r for r in rows if isinstance(r.get("entities"), list)]
    if with_entities:
        result["entity_exact_match"] = entity_exact_match(with_entities)
        result["entity_n"] = len(with_entities)
    result["per_intent"] = per_intent(gold, predicted)
    result["confusions"] = confusions(gold, predicted)
    if max_errors:
        wrong = [(r["text"], g, p) for r, g, p in zip(rows, gold, predicted, strict=True) if g != p]
        result["errors"] = [{"text": t, "gold": g, "predicted": p} for t, g, p in wrong[:max_errors]]
    return result


def entity_exact_match(rows: Sequence[Row]) -> float:
    """Share of rows whose extracted ``(type, value, text)`` set equals the gold ``entities`` set exactly."""
    hits = []
    for row in rows:
        now = datetime.fromisoformat(row["now"]) if isinstance(row.get("now"), str) else None
        found = {_entity_key(e) for e in extract_entities(row["text"], now=now)}
        hits.append(found == {_entity_key(e) for e in row["entities"]})
    return _mean(hits)


def _entity_key(entity: dict[str, Any]) -> tuple[str, str, str]:
    value = entity.get("value")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(entity.get("type")), str(value), str(entity.get("text"))


def per_intent(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    """Support, precision, recall and F1 per gold intent."""
    labels = sorted(set(gold))
    if not labels:
        return {}
    p, r, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    return {
        lbl: {"n": int(s), "precision": round(float(pp), 4), "recall": round(float(rr), 4), "f1": round(float(ff), 4)}
        for lbl, pp, rr, ff, s in zip(labels, p, r, f1, support, strict=True)
    }


def confusions(gold: Sequence[str], predicted: Sequence[str], top: int = 10) -> list[dict[str, Any]]:
    """The most frequent (gold → predicted) mistakes."""
    counts = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    return [{"gold": g, "predicted": p, "count": c} for (g, p), c in counts.most_common(top)]


def cross_validate(
    rows: Sequence[Row], folds: int, train_fn: Callable[[Sequence[Row]], IntentModel], seed: int = 0
) -> dict[str, Any]:
    """Stratified ``folds``-fold check: train on the other folds, evaluate on each; per-fold scores and means.

    A label with fewer rows than folds cannot be in every training part; its rows are still tested.
    """
    labels = [str(r["intent"]) for r in rows]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    per_fold: list[dict[str, Any]] = []
    counts = Counter(labels)
    # StratifiedKFold warns about labels rarer than the fold count; they are placed, so the warning says nothing new.
    strata = [lbl if counts[lbl] >= folds else "_rare" for lbl in labels]
    for train_idx, test_idx in splitter.split(np.zeros(len(rows)), strata):
        model = train_fn([rows[i] for i in train_idx])
        scores = evaluate(model, [rows[i] for i in test_idx])
        per_fold.append(scores)
    keys = ("accuracy", "accuracy_argmax", "answered", "answered_accuracy", "macro_f1", "p50_ms", "p95_ms")
    summary: dict[str, Any] = {k: round(float(np.mean([f[k] for f in per_fold])), 4) for k in keys}
    summary["n"] = len(rows)
    summary["folds"] = [
        {k: f[k] for k in ("n", "accuracy", "accuracy_argmax", "answered", "answered_accuracy", "macro_f1")}
        for f in per_fold
    ]
    summary["min_fold_accuracy"] = min(f["accuracy"] for f in per_fold)
    summary["min_fold_accuracy_argmax"] = min(f["accuracy_argmax"] for f in per_fold)
    summary["seed"] = seed
    summary["accuracy_definition"] = ACCURACY_DEFINITION
    summary["confusions"] = confusions(
        [g for f in per_fold for c in f["confusions"] for g in [c["gold"]] * c["count"]],
        [p for f in per_fold for c in f["confusions"] for p in [c["predicted"]] * c["count"]],
    )
    return summary


def _mean(flags: Sequence[bool]) -> float:
    return round(float(np.mean(flags)), 4) if flags else 0.0
