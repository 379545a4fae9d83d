"""The exact tier's canonical text and key: equal for the same question, different for anything that matters."""

from __future__ import annotations

import pytest

from orchestrator.cache.keys import KeyContext, canonical_text, exact_key

CTX = KeyContext(model="m1", prompt_version="p1", policy_version="1", nlu_version="nlu-a")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Vad är klockan?", "vad är klockan"),
        ("Hej!  Hur   mår du?", "hej hur mår du"),
        ("VAD HETER SVERIGES HUVUDSTAD?", "Vad heter Sveriges huvudstad"),
        ("“Citat” – test…", '"citat" - test'),
        ("Vad\u00a0kostar det?", "vad kostar det"),
        ("Ma\u0308rta", "Märta"),  # decomposed ä (NFD) is the same letter
        ("Hvad er vejret i Malmø?", "hvad er vejret i malmö"),
    ],
)
def test_same_question_same_canonical_text(a: str, b: str) -> None:
    assert canonical_text(a) == canonical_text(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("får", "far"),  # å is a letter, not an accent
        ("vad är 2+2", "vad är 2-2"),
        ("vad är 50 % av 20", "vad är 50 av 20"),
        ("1,5 kg", "15 kg"),
        ("kl 10:30", "kl 1030"),
    ],
)
def test_different_questions_stay_different(a: str, b: str) -> None:
    assert canonical_text(a) != canonical_text(b)


def test_numbers_keep_their_separators_and_sentence_punctuation_goes() -> None:
    assert canonical_text("Möte kl. 10:30, ok?") == "möte kl 10:30 ok"
    assert canonical_text("Pi är 3.14.") == "pi är 3.14"


def test_key_depends_on_everything_that_changes_the_answer() -> None:
    base = exact_key("acme", "Vad är klockan?", CTX)
    assert base == exact_key("acme", "vad är klockan", CTX)
    others = {
        exact_key("other", "Vad är klockan?", CTX),
        exact_key("acme", "Vad är klockan?", KeyContext("m2", "p1", "1", "nlu-a")),
        exact_key("acme", "Vad är klockan?", KeyContext("m1", "p2", "1", "nlu-a")),
        exact_key("acme", "Vad är klockan?", KeyContext("m1", "p1", "2", "nlu-a")),
        exact_key("acme", "Vad är klockan?", KeyContext("m1", "p1", "1", "nlu-b")),
        exact_key("acme", "Vad är klockan?", CTX, force_route="deep"),
    }
    assert base not in others and len(others) == 6
