"""Picking the reject thresholds on development predictions (never on a test set).

A prediction is accepted when its calibrated top probability is at least ``min_confidence`` and beats the
runner-up by at least ``min_margin``; otherwise the answer is ``out_of_scope``. The pick maximises accuracy
among the (confidence, margin) pairs whose accepted labels are right at least ``target_precision`` of the time,
but only among pairs that reject at most ``max_reject_rate`` of the in-domain rows (gold label not
``out_of_scope``): on a small or hard label set the precision target could otherwise only be met by rejecting
most of the traffic, which makes a useless assistant. When no pair meets the target within that budget, the pick
is the most accurate pair within it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from nlu.intents import OUT_OF_SCOPE

CONFIDENCE_GRID = tuple(round(0.025 * i, 3) for i in range(0, 39))  # 0.0 ... 0.95
MARGIN_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
REJECTED = -1


def apply_thresholds(labels: Sequence[str], probs: np.ndarray, min_confidence: float, min_margin: float) -> np.ndarray:
    """Predicted label indices, ``REJECTED`` (-1) where the thresholds (or ``out_of_scope``) reject."""
    order = np.argsort(-probs, axis=1)
    top = order[:, 0]
    p1 = probs[np.arange(len(probs)), top]
    p2 = probs[np.arange(len(probs)), order[:, 1]] if probs.shape[1] > 1 else np.zeros(len(probs))
    oos = labels.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in labels else -2
    accepted = (top != oos) & (p1 >= min_confidence) & (p1 - p2 >= min_margin)
    return np.where(accepted, top, REJECTED)


def score_decisions(labels: Sequence[str], predicted: np.ndarray, gold: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, coverage and precision of accepted labels (a rejection means ``out_of_scope``)."""
    oos = labels.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in labels else REJECTED
    final = np.where(predicted == REJECTED, oos, predicted)
    accepted = predicted != REJECTED
    n = len(gold)
    return {
        "n": n,
        "accuracy": round(float(np.mean(final == gold)), 4) if n else 0.0,
        "macro_f1": round(float(f1_score(gold, final, average="macro", zero_division=0)), 4) if n else 0.0,
        "coverage": round(float(accepted.mean()), 4) if n else 0.0,
        "accepted_precision": round(float(np.mean(final[accepted] == gold[accepted])), 4) if accepted.any() else 1.0,
    }


def pick_thresholds(
    labels: Sequence[str],
    probs: np.ndarray,
    gold: np.ndarray,
    target_precision: float,
    fixed_confidence: float | None = None,
    fixed_margin: float | None = None,
    max_reject_rate: float = 1.0,
) -> tuple[float, float, dict[str, Any]]:
    """``(min_confidence, min_margin, dev_scores)`` chosen on development probabilities ``probs``."""
    labels = list(labels)
    confidences = (fixed_confidence,) if fixed_confidence is not None else CONFIDENCE_GRID
    margins = (fixed_margin,) if fixed_margin is not None else MARGIN_GRID
    top1 = round(float(np.mean(np.argmax(probs, axis=1) == gold)), 4)
    in_domain = gold != (labels.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in labels else -2)
    best: tuple[tuple[float, ...], float, float, dict[str, Any]] | None = None
    for conf in confidences:
        for margin in margins:
            predicted = apply_thresholds(labels, probs, conf, margin)
            scores = score_decisions(labels, predicted, gold)
            rejected = float(np.mean(predicted[in_domain] == REJECTED)) if in_domain.any() else 0.0
            scores["in_domain_rejected"] = round(rejected, 4)
            within = rejected <= max_reject_rate + 1e-9
            meets = scores["accepted_precision"] >= target_precision
            score = scores["accuracy"] if meets or within else scores["accepted_precision"]
            key = (float(within), float(meets), score, -conf, -margin)
            if best is None or key > best[0]:
                best = (key, conf, margin, scores)
    assert best is not None  # noqa: S101 - the grids are never empty
    _, conf, margin, scores = best
    return conf, margin, {**scores, "top1_accuracy": top1, "min_confidence": conf, "min_margin": margin}
