"""``alice eval cache`` without the embedder: reading pair files, scoring pairs, the report and its baseline."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from alice.cli.cacheeval import (
    CURVE_GRID,
    read_pairs,
    score_pairs,
    summarise,
    threshold_at_budget,
)
from alice.errors import ConfigError
from orchestrator.cache.semantic import Question, SemanticMatcher

DIMS = 384


def unit_pair(cosine: float) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.zeros(DIMS, dtype=np.float32), np.zeros(DIMS, dtype=np.float32)
    a[0], b[0], b[1] = 1.0, cosine, math.sqrt(1.0 - cosine * cosine)
    return a, b


def lookup(
    cached: str, incoming: str, cosine: float, label: int, source: str = "f", entities: Any = ((), ())
) -> tuple[Question, Question, int, str]:
    a, b = unit_pair(cosine)
    return (
        Question(cached, "info.query", entities[0], a),
        Question(incoming, "info.query", entities[1], b),
        label,
        source,
    )


def write(tmp_path: Path, lines: list[str], name: str = "pairs.dev.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_pairs(tmp_path: Path) -> None:
    path = write(tmp_path, [json.dumps({"a": "hej", "b": "hallå", "label": 1}), "", '{"a": "x", "b": "y", "label": 0}'])
    rows = read_pairs(path)
    assert [(r.a, r.b, r.label, r.source) for r in rows] == [("hej", "hallå", 1, "pairs"), ("x", "y", 0, "pairs")]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "expected an object"),
        ('{"a": "x", "label": 1}', '"a" and "b"'),
        ('{"a": "x", "b": "  ", "label": 1}', '"a" and "b"'),
        ('{"a": "x", "b": "y", "label": 2}', '"label" must be 0 or 1'),
        ('{"a": "x", "b": "y", "label": true}', '"label" must be 0 or 1'),
    ],
)
def test_a_bad_row_names_file_and_line(tmp_path: Path, line: str, says: str) -> None:
    path = write(tmp_path, ['{"a": "x", "b": "y", "label": 1}', line])
    with pytest.raises(ConfigError, match=says) as info:
        read_pairs(path)
    assert f"{path}:2:" in str(info.value)


def test_a_missing_or_empty_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_pairs(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="no rows"):
        read_pairs(write(tmp_path, [""]))


def test_threshold_at_budget() -> None:
    scores = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.94])
    labels = np.array([1, 0, 1, 0, 1, 0])
    t = threshold_at_budget(scores, labels, 0.0)
    assert 0.98 < t <= 0.99
    t = threshold_at_budget(scores, labels, 1 / 3)  # one of three negatives may pass
    assert 0.96 < t <= 0.98
    assert ((scores >= t) & (labels == 0)).sum() == 1


def test_score_and_summarise_count_scope_verifier_and_baseline() -> None:
    sthlm = ({"type": "place", "value": "Stockholm"},)
    gbg = ({"type": "place", "value": "Göteborg"},)
    pairs = [
        lookup("kan man frysa mjölk", "går det att frysa mjölk", 0.985, 1, "a"),
        lookup("vad är en indexfond", "vad betyder indexfond", 0.97, 1, "a"),
        lookup("hur gör man pannkakor", "hur lagar man pannkakor", 0.93, 1, "b"),  # below the threshold: a miss
        lookup("hur blir vädret i Stockholm", "hur blir vädret i Göteborg", 0.99, 0, "b", (sthlm, gbg)),  # scope
        lookup("är det farligt att äta rå kyckling", "är det inte farligt att äta rå kyckling", 0.996, 0, "b"),
        lookup("När öppnar biblioteket?", "Var ligger biblioteket?", 0.98, 0, "a"),  # question word
        lookup("vad betyder ordet hund", "vad betyder ordet katt", 0.88, 0, "a"),
    ]
    scored = score_pairs(pairs, SemanticMatcher(0.944))
    assert scored.same_scope.tolist() == [True, True, True, False, False, True, True]
    assert not np.isfinite(scored.scores[5])
    report = summarise(scored, 0.944, curve=True)
    assert (report["hit_rate"], report["false_hit_rate"]) == (round(2 / 3, 4), 0.0)
    assert (report["n_pos"], report["n_neg"], report["n"]) == (3, 4, 7)
    assert report["files"]["a"] == {"hit_rate": 1.0, "false_hit_rate": 0.0, "n_pos": 2, "n_neg": 2}
    assert report["files"]["b"]["hit_rate"] == 0.0
    # the plain cosine at the same (zero) false-hit budget sits above the negation pair (0.996): no hits at all
    assert report["baseline"]["false_hit_rate"] == 0.0
    assert report["baseline"]["hit_rate"] == 0.0
    assert report["baseline"]["threshold"] > scored.cosines[4]
    assert report["p95_ms"] < 1.0
    assert [p["threshold"] for p in report["curve"]] == list(CURVE_GRID)
    loose = next(p for p in report["curve"] if p["threshold"] == 0.9)
    assert loose["hit_rate"] == 1.0 and loose["false_hit_rate"] == 0.0
    assert loose["baseline_false_hit_rate"] == 0.75


def test_a_pair_without_vectors_is_refused() -> None:
    q = Question("hej", "greeting.hello")
    with pytest.raises(ValueError, match="embedding"):
        score_pairs([(q, q, 1, "f")], SemanticMatcher())


def test_eval_cache_refuses_bad_input_before_loading_any_model(tmp_path: Path) -> None:
    from alice.cli.cacheeval import eval_cache

    with pytest.raises(ConfigError, match="--data"):
        eval_cache([])
    bad = write(tmp_path, ['{"a": "x", "b": "y", "label": 1}', '{"a": "x", "b": "y"}'])
    with pytest.raises(ConfigError, match=f"{bad}:2:"):
        eval_cache([bad])
    good = write(tmp_path, ['{"a": "x", "b": "y", "label": 1}'], "good.jsonl")
    with pytest.raises(ConfigError, match="threshold"):
        eval_cache([good], threshold=1.5)
