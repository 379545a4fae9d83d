"""``alice eval memory``'s scoring and its data checks (pure logic; the embedding run is the command itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alice.cli.memoryeval import load_rows, score, strategies
from alice.errors import ConfigError

QUESTIONS = [
    {"text": "a", "relevant": ["f1"]},
    {"text": "b", "relevant": ["f2", "f3"]},
    {"text": "c", "relevant": []},
]


def test_score_counts_precision_recall_hits_and_false_context() -> None:
    picks = [["f1", "f9"], ["f3"], ["f4"]]
    assert score(picks, QUESTIONS) == {
        "precision": 0.5,  # f1, f3 right of four given
        "recall": round(2 / 3, 4),
        "hit_rate": 1.0,
        "false_context_rate": 1.0,
        "facts_per_question": round(4 / 3, 3),
    }
    assert score([[], [], []], QUESTIONS)["precision"] == 0.0


def test_the_strategies_differ_only_in_how_many_they_give() -> None:
    picks = strategies(floor=0.86, confident=0.9, margin=0.02, steps=(1, 2, 3, 5))
    crowded = [0.95, 0.945, 0.94, 0.935, 0.93, 0.5]
    assert picks["fibonacci"](crowded) == 5 and picks["top1"](crowded) == 1 and picks["top3"](crowded) == 3
    assert picks["fibonacci"]([0.95, 0.88]) == 1  # a clear best comes alone
    assert picks["top5"]([0.5, 0.4]) == 0 and picks["top3_no_floor"]([0.5, 0.4]) == 2


def test_bad_rows_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"kind": "fact", "id": "f1", "text": "x"}\n{"kind": "other"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="m.jsonl:2"):
        load_rows(path)
    path.write_text(
        '{"kind": "fact", "id": "f1", "text": "x"}\n{"kind": "question", "text": "q", "relevant": ["f2"]}\n'
    )
    with pytest.raises(ConfigError, match="unknown: \\['f2'\\]"):
        load_rows(path)
