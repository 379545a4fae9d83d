"""``alice eval cache``: the semantic cache tier measured on sentence pairs (DESIGN §7).

Each row ``{"a", "b", "label"}`` is one lookup: ``a`` is the cached question, ``b`` the incoming one (same
tenant); ``label`` 1 means they mean the same. Both are parsed as the orchestrator sees them: the NLU's e5
vector (:func:`alice.cli.embeddings.embed_texts`), its intent label (the trained model), its entities (dates
resolved against one ``now`` for the whole run). A hit is the same scope
(:func:`orchestrator.cache.semantic.scope_key`) and the matcher's yes. ``hit_rate`` is measured on label 1,
``false_hit_rate`` on label 0.

The same run measures the plain-cosine baseline (no scope, no verifier) with its threshold picked on these very
pairs at the product's false-hit rate, so the baseline gets every advantage and the gain of scoping and
verifier is what is left. With ``curve`` both are traced over thresholds 0.90-0.99.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alice.errors import ConfigError
from alice.jsonl import numbered_objects
from alice.logs import configure_logging
from orchestrator.cache.semantic import Question, SemanticMatcher, scope_key

TENANT = "eval"
CURVE_GRID = tuple(round(0.90 + 0.005 * i, 3) for i in range(19))


@dataclass(frozen=True)
class PairRow:
    """One lookup: the cached question ``a``, the incoming ``b``, 1 when they mean the same; its file's stem."""

    a: str
    b: str
    label: int
    source: str


@dataclass(frozen=True)
class PairScores:
    """Per pair: label, file, cosine, scope equality (with and without intent) and the matcher's score
    (``-inf`` where a hard rule says no), plus the time one decision took."""

    labels: np.ndarray
    sources: np.ndarray
    cosines: np.ndarray
    same_scope: np.ndarray
    same_scope_any_intent: np.ndarray
    scores: np.ndarray
    decision_ms: np.ndarray


def read_pairs(path: Path) -> list[PairRow]:
    """The rows of one pairs file, or a :class:`ConfigError` naming the file and line."""
    source = path.name.split(".")[0]
    rows = []
    for number, row in numbered_objects(path, 'an object {"a", "b", "label"}'):
        a, b, label = row.get("a"), row.get("b"), row.get("label")
        if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
            raise ConfigError(f'{path}:{number}: "a" and "b" must be non-empty strings')
        if isinstance(label, bool) or label not in (0, 1):
            raise ConfigError(f'{path}:{number}: "label" must be 0 or 1, not {label!r}')
        rows.append(PairRow(a, b, int(label), source))
    if not rows:
        raise ConfigError(f"{path}: no rows")
    return rows


def score_pairs(
    pairs: Sequence[tuple[Question, Question, int, str]], matcher: SemanticMatcher, tenant: str = TENANT
) -> PairScores:
    """Score ``(cached, incoming, label, source)`` pairs the way the orchestrator's lookup decides them."""
    n = len(pairs)
    cosines, scores, ms = np.zeros(n), np.full(n, -math.inf), np.zeros(n)
    same, same_any = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for i, (cached, incoming, _label, _source) in enumerate(pairs):
        if cached.embedding is None or incoming.embedding is None:
            raise ValueError("every question of a scored pair needs an embedding")
        stored_scope = scope_key(tenant, cached.intent, cached.entities, cached.text)
        cos = float(np.dot(np.asarray(cached.embedding), np.asarray(incoming.embedding)))
        start = time.perf_counter()
        same[i] = scope_key(tenant, incoming.intent, incoming.entities, incoming.text) == stored_scope
        matcher.accepts(incoming, cached, cos)
        ms[i] = (time.perf_counter() - start) * 1000
        cosines[i] = cos
        score = matcher.score(incoming, cached, cos)
        scores[i] = -math.inf if score is None else score
        # the same scope with one intent class for all: what the intent labels cost
        same_any[i] = scope_key(tenant, "any", incoming.entities, incoming.text) == scope_key(
            tenant, "any", cached.entities, cached.text
        )
    labels = np.array([p[2] for p in pairs], dtype=int)
    sources = np.array([p[3] for p in pairs], dtype=object)
    return PairScores(labels, sources, cosines, same, same_any, scores, ms)


def _rate(hits: np.ndarray, mask: np.ndarray) -> float | None:
    return round(float(hits[mask].mean()), 4) if mask.any() else None


def rates(hits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """``hit_rate`` on label 1, ``false_hit_rate`` on label 0 (None where a file has no such rows)."""
    return {
        "hit_rate": _rate(hits, labels == 1),
        "false_hit_rate": _rate(hits, labels == 0),
        "n_pos": int((labels == 1).sum()),
        "n_neg": int((labels == 0).sum()),
    }


def _two_rates(hits: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    return {"hit_rate": _rate(hits, labels == 1), "false_hit_rate": _rate(hits, labels == 0)}


def threshold_at_budget(scores: np.ndarray, labels: np.ndarray, budget: float) -> float:
    """The lowest threshold (hit: ``score >= threshold``) whose false-hit rate on label 0 is at most ``budget``."""
    negatives = np.sort(scores[(labels == 0) & np.isfinite(scores)])[::-1]
    n_neg = int((labels == 0).sum())
    allowed = math.floor(budget * n_neg + 1e-9)
    if n_neg == 0 or allowed >= len(negatives):
        finite = scores[np.isfinite(scores)]
        return float(finite.min()) if finite.size else 1.0
    return float(np.nextafter(negatives[allowed], math.inf))


def summarise(scored: PairScores, threshold: float, curve: bool = False) -> dict[str, Any]:
    """The JSON report: overall and per-file rates, timing, the plain-cosine baseline, and the curve."""
    hits = scored.same_scope & (scored.scores >= threshold)
    overall = rates(hits, scored.labels)
    files = {
        str(name): rates(hits[scored.sources == name], scored.labels[scored.sources == name])
        for name in sorted(set(scored.sources.tolist()))
    }
    negatives = scored.labels == 0
    budget = float(hits[negatives].mean()) if negatives.any() else 0.0
    # rounded up, so the printed threshold admits no more false hits than the exact one
    base_threshold = math.ceil(threshold_at_budget(scored.cosines, scored.labels, budget) * 1e4) / 1e4
    base_hits = scored.cosines >= base_threshold
    any_intent = scored.same_scope_any_intent & (scored.scores >= threshold)
    pos = scored.labels == 1
    result: dict[str, Any] = {
        **overall,
        "threshold": round(threshold, 4),
        "threshold_on": "cosine - length_margin / words of the shorter question (baseline: plain cosine)",
        "n": int(len(scored.labels)),
        "files": files,
        "p50_ms": round(float(np.percentile(scored.decision_ms, 50)), 4),
        "p95_ms": round(float(np.percentile(scored.decision_ms, 95)), 4),
        "baseline": {
            "threshold": base_threshold,
            **_two_rates(base_hits, scored.labels),
            "budget": round(budget, 4),
            "files": {
                name: _two_rates(base_hits[scored.sources == name], scored.labels[scored.sources == name])
                for name in files
            },
        },
        "scope": {
            "pos_same_scope": _rate(scored.same_scope, pos),
            "neg_same_scope": _rate(scored.same_scope, ~pos),
            "pos_lost_to_intent_only": int((any_intent & ~hits & pos).sum()),
            "without_intent_scope": _two_rates(any_intent, scored.labels),
        },
    }
    if curve:
        result["curve"] = [
            {
                "threshold": t,
                **_two_rates(scored.same_scope & (scored.scores >= t), scored.labels),
                "baseline_hit_rate": _rate(scored.cosines >= t, pos),
                "baseline_false_hit_rate": _rate(scored.cosines >= t, ~pos),
            }
            for t in CURVE_GRID
        ]
    return result


def parse_questions(texts: Sequence[str], say: Callable[[str], None] = lambda _msg: None) -> dict[str, Question]:
    """Each distinct text as the orchestrator would see it after the NLU: vector, intent label, entities."""
    from datetime import datetime

    from alice.cli.embeddings import embed_texts
    from nlu.embedder import create_embedder
    from nlu.entities import LOCAL_TIMEZONE, extract_entities
    from nlu.settings import NLUSettings
    from nlu.training import load_or_train

    vectors = embed_texts(texts, say)
    settings = NLUSettings()
    try:
        embedder = create_embedder(settings.embedder, settings.embed_threads, settings.st_model)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"NLU embedder {settings.embedder!r}: {exc}") from None
    say("eval: loading the NLU model (training it first if missing)")
    model = load_or_train(settings, embedder)
    started = time.perf_counter()
    predictions = model.artifact.predict(list(texts), vectors)
    now = datetime.now(LOCAL_TIMEZONE)
    questions = {
        text: Question(text, prediction.label, tuple(extract_entities(text, now)), vectors[i])
        for i, (text, prediction) in enumerate(zip(texts, predictions, strict=True))
    }
    say(f"eval: {len(texts)} sentences classified and parsed in {time.perf_counter() - started:.1f} s")
    return questions


def eval_cache(
    data: list[Path],
    threshold: float | None = None,
    curve: bool = False,
    say: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """``alice eval cache --data D [--data D2 …]``: hit rate and false-hit rate of the semantic tier (its default
    threshold unless ``threshold`` is given), per file too, with the plain-cosine baseline (and ``curve``)."""
    configure_logging("alice-cli", fmt="console", level="WARNING")  # stdout is for the JSON line
    if not data:
        raise ConfigError('give at least one --data FILE of {"a", "b", "label"} rows')
    rows = [row for path in data for row in read_pairs(path)]
    say(f"eval: {len(rows)} pairs from {len(data)} file(s)")
    try:
        matcher = SemanticMatcher(threshold)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    texts = list(dict.fromkeys(t for row in rows for t in (row.a, row.b)))
    questions = parse_questions(texts, say)
    pairs = [(questions[r.a], questions[r.b], r.label, r.source) for r in rows]
    scored = score_pairs(pairs, matcher)
    result = summarise(scored, matcher.threshold, curve)
    result["length_margin"] = matcher.length_margin
    say(
        f"eval: hit_rate {result['hit_rate']} false_hit_rate {result['false_hit_rate']} at {matcher.threshold}; "
        f"plain cosine {result['baseline']['hit_rate']} at {result['baseline']['threshold']}"
    )
    return result
