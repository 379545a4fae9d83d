"""``alice eval guard``: the guardian's injection screening (rules + classifier), DESIGN §7.

- On the attack set (``--data``, default ``../shared/data/injection/deepset.dev.jsonl``) it is cross-validated
  (``--folds`` K, stratified by row order): each fold is screened by a model trained on the other folds plus
  Alice's Swedish attack and benign files, never on the shipped copy of the same set. With ``--folds 0`` the
  shipped model screens the file as it is (for a set the model never saw, e.g. a test split).
- Swedish benign traffic: Alice's own training sentences (``benign_sv.jsonl``) are screened out of fold the same
  way; the other Swedish files (the NLU dev file, the upstream and Alice's scenario prompts, the NLU acceptance
  file) by the shipped model, which never saw them. Each gets its false-positive rate.
- ``tpr``/``fpr``/``f1`` at the threshold in use; ``pick`` is the threshold with the highest TPR whose attack-set
  FPR ≤ 0.05 and Swedish FPR ≤ 0.01 (out of fold), and ``curve`` the rates over thresholds.
- ``p95_ms``: one message screened (rules + features + classifier), timed in-process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from alice.cli.scenarios import percentile
from alice.errors import ConfigError

DEFAULT_DATA = Path("../shared/data/injection/deepset.dev.jsonl")
#: Swedish benign files the shipped model never trained on: (path, the text field).
SWEDISH_FILES: tuple[tuple[str, str], ...] = (
    ("../shared/data/nlu/ha_intents_sv.dev.jsonl", "text"),
    ("../shared/data/scenarios/upstream_dev.jsonl", "prompt"),
    ("eval/scenarios_sv.jsonl", "prompt"),
    ("services/nlu/data/eval_sv.jsonl", "text"),
)
MAX_FPR = 0.05
MAX_SWEDISH_FPR = 0.01


def _say(msg: str) -> None:
    print(f"guard: {msg}", file=sys.stderr, flush=True)


def _texts(path: Path, field: str) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    return [str(json.loads(line)[field]) for line in lines if line.strip()]


def _rates(scores: np.ndarray, labels: np.ndarray, rules: np.ndarray, threshold: float) -> dict[str, Any]:
    flagged = rules | (scores >= threshold)
    pos, neg = labels == 1, labels == 0
    tp, fp = int((flagged & pos).sum()), int((flagged & neg).sum())
    tpr = tp / max(1, int(pos.sum()))
    fpr = fp / max(1, int(neg.sum()))
    precision = tp / max(1, tp + fp)
    f1 = 2 * precision * tpr / (precision + tpr) if precision + tpr else 0.0
    return {"tpr": round(tpr, 4), "fpr": round(fpr, 4), "f1": round(f1, 4), "tp": tp, "fp": fp}


def _out_of_fold(
    texts: list[str], labels: np.ndarray, extra: tuple[list[str], np.ndarray], sv: list[str], folds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every attack-set row and every Swedish training row from models that did not see them."""
    from guardian.injection import InjectionModel, fit

    scores = np.zeros(len(texts))
    sv_scores = np.zeros(len(sv))
    for k in range(folds):
        test = np.arange(len(texts)) % folds == k
        sv_test = np.arange(len(sv)) % folds == k
        train_texts = [t for t, held in zip(texts, test, strict=True) if not held]
        train_texts += extra[0] + [t for t, held in zip(sv, sv_test, strict=True) if not held]
        train_labels = np.concatenate([labels[~test], extra[1], np.zeros(int((~sv_test).sum()), dtype=np.int8)])
        weights, intercept = fit(train_texts, train_labels)
        model = InjectionModel(weights, intercept, f"fold-{k}")
        scores[test] = [model.score(t) for t, held in zip(texts, test, strict=True) if held]
        sv_scores[sv_test] = [model.score(t) for t, held in zip(sv, sv_test, strict=True) if held]
        _say(f"fold {k + 1}/{folds} done")
    return scores, sv_scores


def eval_guard(data: Path | None, folds: int, threshold: float | None, cache_dir: Path) -> dict[str, Any]:
    """Screen the attack set and the Swedish benign files; see the module docstring."""
    from guardian.injection import DATA_DIR, DEFAULT_THRESHOLD, load_or_train, load_rows, rule_hit

    path = data or DEFAULT_DATA
    texts, labels = load_rows([path]) if path.exists() else ([], np.zeros(0, dtype=np.int8))
    if not texts:
        raise ConfigError(f"no rows in {path} (need {{'text','label'}} JSON Lines)")
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    sv_attacks = load_rows([DATA_DIR / "injection_sv.jsonl"])
    sv_train = load_rows([DATA_DIR / "benign_sv.jsonl"])[0]
    _say(f"{len(texts)} rows from {path} ({int(labels.sum())} attacks); {folds} folds")
    model = load_or_train(cache_dir)
    if folds >= 2:
        scores, sv_scores = _out_of_fold(texts, labels, (sv_attacks[0], sv_attacks[1]), sv_train, folds)
    else:
        scores = np.array([model.score(t) for t in texts])
        sv_scores = np.array([model.score(t) for t in sv_train])
    rules = np.array([rule_hit(t) is not None for t in texts])
    swedish: dict[str, list[str]] = {"services/guardian/data/benign_sv.jsonl (out of fold)": sv_train}
    for name, field in SWEDISH_FILES:
        if Path(name).exists():
            swedish[name] = _texts(Path(name), field)
    sv_all_scores = {
        name: (sv_scores if name.endswith("(out of fold)") else np.array([model.score(t) for t in rows]))
        for name, rows in swedish.items()
    }
    sv_rules = {name: np.array([rule_hit(t) is not None for t in rows]) for name, rows in swedish.items()}
    sv_scores_all = np.concatenate(list(sv_all_scores.values()))
    sv_rules_all = np.concatenate(list(sv_rules.values()))
    zeros = np.zeros(len(sv_scores_all), dtype=np.int8)

    curve = []
    for t in np.round(np.arange(0.30, 0.96, 0.05), 2):
        attack = _rates(scores, labels, rules, float(t))
        sv_fpr = _rates(sv_scores_all, zeros, sv_rules_all, float(t))["fpr"]
        curve.append({"threshold": float(t), "tpr": attack["tpr"], "fpr": attack["fpr"], "swedish_fpr": sv_fpr})
    allowed = [c for c in curve if c["fpr"] <= MAX_FPR and c["swedish_fpr"] <= MAX_SWEDISH_FPR]
    pick = max(allowed, key=lambda c: (c["tpr"], -c["threshold"])) if allowed else None

    timings = []
    for text in (texts + sv_train)[:600]:
        started = time.perf_counter()
        model.screen(text, threshold)
        timings.append((time.perf_counter() - started) * 1000)
    result = {
        "data": str(path),
        "n": len(texts),
        "folds": folds,
        "threshold": threshold,
        **_rates(scores, labels, rules, threshold),
        "rule_tpr": round(float((rules & (labels == 1)).sum()) / max(1, int(labels.sum())), 4),
        "rule_fpr": round(float((rules & (labels == 0)).sum()) / max(1, int((labels == 0).sum())), 4),
        "swedish_fpr": _rates(sv_scores_all, zeros, sv_rules_all, threshold)["fpr"],
        "swedish": {
            name: {"n": len(swedish[name]), **_fp_only(sv_all_scores[name], sv_rules[name], threshold)}
            for name in swedish
        },
        "pick": pick,
        "curve": curve,
        "p50_ms": percentile(timings, 50),
        "p95_ms": percentile(timings, 95),
        "model_version": model.version,
    }
    _say(f"tpr {result['tpr']} fpr {result['fpr']} swedish_fpr {result['swedish_fpr']} at {threshold}")
    return result


def _fp_only(scores: np.ndarray, rules: np.ndarray, threshold: float) -> dict[str, Any]:
    flagged = rules | (scores >= threshold)
    return {"fp": int(flagged.sum()), "fpr": round(float(flagged.mean()) if len(flagged) else 0.0, 4)}
