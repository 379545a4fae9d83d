"""The acceptance sentences stay apart from the training sentences (services/nlu/data/README.md, "Rules").

``eval_sv.jsonl`` (the NLU's acceptance file) and ``eval/scenarios_sv.jsonl`` (the scenario prompts) were written
separately from the training rows; this check keeps it so as training rows are added: no acceptance sentence
shares more than 70 % of its word trigrams with a training row, none is a character-level near-copy (difflib
ratio ≥ 0.9) of one, and one under three words never equals one.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRAINING = [ROOT / "services/nlu/data/intents_sv.jsonl", ROOT / "services/nlu/data/ha_intents_sv.jsonl"]
ACCEPTANCE = {ROOT / "services/nlu/data/eval_sv.jsonl": "text", ROOT / "eval/scenarios_sv.jsonl": "prompt"}
MAX_TRIGRAM_SHARE = 0.7
MAX_RATIO = 0.9


def _norm(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(re.findall(r"\w+", "".join(ch for ch in folded if not unicodedata.combining(ch))))


def _trigrams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def _sentences(path: Path, key: str) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [_norm(json.loads(line)[key]) for line in lines if line.strip()]


def overlaps(sentence: str, training: list[str]) -> list[str]:
    """The training sentences ``sentence`` is too close to (empty when it keeps its distance)."""
    words = sentence.split()
    grams = _trigrams(words)
    close = []
    for other in training:
        if len(words) < 3:
            if sentence == other:
                close.append(other)
            continue
        if grams and len(grams & _trigrams(other.split())) / len(grams) > MAX_TRIGRAM_SHARE:
            close.append(other)
            continue
        matcher = difflib.SequenceMatcher(None, sentence, other)
        # the quick ratios are upper bounds of ratio(): most pairs stop there
        bounds = (matcher.real_quick_ratio, matcher.quick_ratio, matcher.ratio)
        if all(bound() >= MAX_RATIO for bound in bounds):
            close.append(other)
    return close


def test_the_check_catches_a_copy_and_a_near_copy() -> None:
    training = ["sätt en timer på fem minuter", "vad är klockan"]
    assert overlaps(_norm("Sätt en timer på fem minuter!"), training)
    assert overlaps(_norm("sätt en timer på fem minutr"), training)
    assert overlaps(_norm("vad är klockan"), training)
    assert not overlaps(_norm("starta nedräkning, tio minuter"), training)


def test_acceptance_sentences_are_not_copies_of_training_sentences() -> None:
    training = [s for path in TRAINING for s in _sentences(path, "text")]
    found = {
        f"{path.name}: {sentence}": overlaps(sentence, training)
        for path, key in ACCEPTANCE.items()
        for sentence in _sentences(path, key)
    }
    assert {k: v for k, v in found.items() if v} == {}
