"""Measuring a trained model: ``evaluate(model, rows)`` is what ``alice eval nlu --train T --test E`` prints."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from nlu.classifier import IntentModel
from nlu.datasets import Row, intent_rows
from nlu.intents import OUT_OF_SCOPE


def percentile_ms(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``samples`` (milliseconds), 0.0 when empty."""
    return round(float(np.percentile(samples, q)), 2) if samples else 0.0


def evaluate(model: IntentModel, rows: Sequence[Row], max_errors: int = 0) -> dict[str, Any]:
    """Classify each row on its own (as the service would) and score it against its gold label.

    Returns ``accuracy`` and ``macro_f1`` (a rejection counts as ``out_of_scope``), ``n``, per-sentence
    latency ``p50_ms``/``p95_ms`` (embed + classify), ``coverage`` (share not rejected),
    ``accepted_precision``, ``top1_accuracy`` (ignoring the thresholds) and ``per_intent`` F1.
    """
    items = intent_rows(rows)
    gold = [r["intent"] for r in items]
    predicted, top1, latencies = [], [], []
    for row in items:
        start = time.perf_counter()
        prediction = model.classify([row["text"]]).predictions[0]
        latencies.append((time.perf_counter() - start) * 1000)
        predicted.append(prediction.label)
        top1.append(prediction.ranking[0][0])
    accepted = [p != OUT_OF_SCOPE for p in predicted]
    result: dict[str, Any] = {
        "n": len(items),
        "accuracy": _mean([p == g for p, g in zip(predicted, gold, strict=True)]),
        "macro_f1": round(float(f1_score(gold, predicted, average="macro", zero_division=0)), 4) if items else 0.0,
        "p50_ms": percentile_ms(latencies, 50),
        "p95_ms": percentile_ms(latencies, 95),
        "coverage": _mean(accepted),
        "accepted_precision": _mean([p == g for p, g, a in zip(predicted, gold, accepted, strict=True) if a]),
        "top1_accuracy": _mean([t == g for t, g in zip(top1, gold, strict=True)]),
        "model_version": model.version,
        "per_intent": _per_intent(gold, predicted),
    }
    if max_errors:
        wrong = [(r["text"], g, p) for r, g, p in zip(items, gold, predicted, strict=True) if g != p]
        result["errors"] = [{"text": t, "gold": g, "predicted": p} for t, g, p in wrong[:max_errors]]
    return result


def _mean(flags: Sequence[bool]) -> float:
    return round(float(np.mean(flags)), 4) if flags else 0.0


def _per_intent(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    labels = sorted(set(gold))
    if not labels:
        return {}
    _, _, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    return {lbl: {"n": int(s), "f1": round(float(f), 4)} for lbl, f, s in zip(labels, f1, support, strict=True)}
