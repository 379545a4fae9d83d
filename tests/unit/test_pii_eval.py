"""``alice eval pii`` scoring on hand-made rows (the detector itself is tested in test_guardian_pii.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alice.cli.pii_eval import load_rows, score
from alice.errors import ConfigError


def _row(text: str, *spans: tuple[str, str]) -> dict[str, object]:
    return {
        "text": text,
        "spans": [{"start": text.index(v), "end": text.index(v) + len(v), "type": t} for t, v in spans],
    }


def test_precision_recall_and_leaks() -> None:
    rows = [
        _row("mejla a@b.se nu", ("EMAIL", "a@b.se")),
        _row("kortet 4111 1111 1111 1111"),  # a card the labels do not mention: found, counted against precision
        _row("konto 1234-5678901", ("ACCOUNT", "1234-5678901")),  # a kind the detector lacks: missed and leaked
    ]
    result = score(rows)
    assert (result["spans_expected"], result["spans_found"]) == (2, 2)
    assert result["precision"] == 0.5 and result["recall"] == 0.5 and result["f1"] == 0.5
    assert result["leaked"] == 1
    card = result["per_type"]["PAYMENT_CARD"]
    assert card == {"expected": 0, "found": 1, "right": 0, "precision": 0.0, "recall": None}
    assert all("4111" not in json.dumps(e) for e in result["errors"])  # kinds only, never values


def test_rows_are_checked_with_the_line_named(tmp_path: Path) -> None:
    path = tmp_path / "pii.jsonl"
    path.write_text('{"text": "hej", "spans": []}\n{"text": "x"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="pii.jsonl:2"):
        load_rows(path)
