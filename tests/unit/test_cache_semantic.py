"""The semantic tier's decision: scopes that keep different questions apart, and the matcher's verdict."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

from orchestrator.cache.semantic import (
    DEFAULT_THRESHOLD,
    Question,
    SemanticMatcher,
    entity_signature,
    intent_class,
    is_negated,
    question_frame,
    scope_key,
)

DIMS = 384


def ent(kind: str, value: Any, text: str | None = None, start: int = 0) -> dict[str, Any]:
    """An entity as the NLU sends it."""
    surface = text if text is not None else str(value)
    return {"type": kind, "value": value, "text": surface, "start": start, "end": start + len(surface)}


def vectors_at(cosine: float) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors whose cosine is ``cosine``."""
    a = np.zeros(DIMS, dtype=np.float32)
    b = np.zeros(DIMS, dtype=np.float32)
    a[0] = 1.0
    b[0], b[1] = cosine, math.sqrt(1.0 - cosine * cosine)
    return a, b


def pair(
    cached: str,
    incoming: str,
    cosine: float,
    intent: str = "info.query",
    cached_entities: tuple[dict[str, Any], ...] = (),
    incoming_entities: tuple[dict[str, Any], ...] = (),
) -> tuple[Question, Question]:
    a, b = vectors_at(cosine)
    return Question(cached, intent, cached_entities, a), Question(incoming, intent, incoming_entities, b)


def scope(q: Question, tenant: str = "acme") -> str:
    return scope_key(tenant, q.intent, q.entities, q.text)


# --- scope ---------------------------------------------------------------------------------------------------


def test_the_weather_in_stockholm_never_answers_the_weather_in_goteborg() -> None:
    sthlm = scope_key("acme", "weather.lookup", [ent("place", "Stockholm", start=20)], "hur blir vädret i Stockholm")
    gbg = scope_key("acme", "weather.lookup", [ent("place", "Göteborg", start=20)], "hur blir vädret i Göteborg")
    assert sthlm != gbg


def test_the_same_place_by_another_name_is_the_same_scope() -> None:
    short = scope_key("acme", "weather.lookup", [ent("place", "Göteborg", "gbg", 17)], "vädret i gbg imorgon?")
    full = scope_key("acme", "weather.lookup", [ent("place", "Göteborg", "Göteborg", 20)], "hur blir vädret i Göteborg")
    assert short == full


def test_today_and_tomorrow_are_different_scopes() -> None:
    today = scope_key("acme", "weather.lookup", [ent("date", "2025-03-05", "idag")], "hur blir vädret idag")
    tomorrow = scope_key("acme", "weather.lookup", [ent("date", "2025-03-06", "imorgon")], "hur blir vädret imorgon")
    undated = scope_key("acme", "weather.lookup", [], "hur blir vädret")
    assert len({today, tomorrow, undated}) == 3


def test_different_numbers_are_different_scopes_but_equal_values_are_not() -> None:
    fifteen = scope_key("acme", "math.calculate", [ent("number", 15), ent("number", 2500)], "vad är 15 % av 2500")
    twenty = scope_key("acme", "math.calculate", [ent("number", 20), ent("number", 2500)], "vad är 20 % av 2500")
    assert fifteen != twenty
    words = scope_key("acme", "info.query", [ent("number", 3, "tre")], "vad hände med de tre små grisarna")
    digits = scope_key("acme", "info.query", [ent("number", 3.0, "3")], "vad hände med de 3 små grisarna")
    assert words == digits


def test_an_expression_keeps_its_formula_as_well_as_its_value() -> None:
    e1 = {**ent("expression", 25, "150 delat med 6"), "expression": "150/6"}
    e2 = {**ent("expression", 25, "75 delat med 3"), "expression": "75/3"}
    assert entity_signature([e1]) != entity_signature([e2])


def test_signature_ignores_order_case_spacing_and_repeats() -> None:
    a = [ent("place", "Malmö"), ent("person", "Anna"), ent("place", "Malmö")]
    b = [ent("person", "anna"), ent("place", " MALMÖ ")]
    assert entity_signature(a) == entity_signature(b)


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("är det farligt att äta rå kyckling", "är det inte farligt att äta rå kyckling"),
        ("kan man dricka kaffe med mjölk", "kan man dricka kaffe utan mjölk"),
        ("har jag fått något mejl", "har jag inte fått något mejl"),
        ("finns det tåg till Kiruna", "finns det inga tåg till Kiruna"),
        ("är parkering tillåten här", "är parkering ej tillåten här"),
        ("har du varit i Rom", "har du aldrig varit i Rom"),
    ],
)
def test_negation_splits_the_scope(plain: str, negated: str) -> None:
    assert not is_negated(plain)
    assert is_negated(negated)
    assert scope_key("acme", "info.query", [], plain) != scope_key("acme", "info.query", [], negated)


def test_negation_words_are_whole_words() -> None:
    assert not is_negated("vad är intensivvård")  # "int…" inside a word is no negation
    assert not is_negated("vilka ingenjörer bygger broar")
    assert is_negated("INTE igen?")


def test_tenants_never_share_a_scope() -> None:
    assert scope_key("acme", "info.query", [], "vad är en fond") != scope_key(
        "globex", "info.query", [], "vad är en fond"
    )


def test_free_text_intents_share_a_class_and_tool_intents_do_not() -> None:
    assert intent_class("info.query") == intent_class("out_of_scope") == intent_class("smalltalk") == "open"
    assert intent_class("weather.lookup") == "weather.lookup"
    assert intent_class(None) != intent_class("info.query")
    text = "hur blir vädret i Lund"
    assert scope_key("a", "info.query", [], text) == scope_key("a", "out_of_scope", [], text)
    assert scope_key("a", "weather.lookup", [], text) != scope_key("a", "info.query", [], text)


def test_the_scope_shows_no_entity_value_in_clear() -> None:
    key = scope_key("acme", "email.create_draft", [ent("email", "anna.svensson@example.com")], "mejla anna")
    assert "anna" not in key.split("|", 1)[1]
    assert key.startswith("acme|email.create_draft|aff|")


# --- question frame --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "frame"),
    [
        ("När öppnar biblioteket?", "när"),
        ("var ligger biblioteket", "var"),
        ("Vart går bussen?", "var"),
        ("Var det roligt på bio?", "ja/nej"),  # the verb "var", not "where"
        ("Vet du när tåget går?", "när"),
        ("Det var kallt igår, eller hur?", "ja/nej"),
        ("vilken är Norges huvudstad", "vad"),
        ("hur mycket kostar en pizza", "vad"),
        ("hur gör man pannkakor", "hur"),
        ("Regnar det i Lund?", "ja/nej"),
        ("berätta en rolig historia", None),
        ("", None),
    ],
)
def test_question_frame(text: str, frame: str | None) -> None:
    assert question_frame(text) == frame


# --- matcher ---------------------------------------------------------------------------------------------------


def test_a_true_paraphrase_with_a_high_cosine_is_accepted() -> None:
    cached, incoming = pair("kan man frysa mjölk", "går det att frysa mjölk", 0.985)
    assert SemanticMatcher().accepts(incoming, cached, 0.985)


def test_the_cosine_is_computed_from_the_embeddings_when_not_given() -> None:
    matcher = SemanticMatcher()
    assert matcher.accepts(*pair("går det att frysa mjölk", "kan man frysa mjölk", 0.985))
    assert not matcher.accepts(*pair("går det att frysa mjölk", "kan man frysa mjölk", 0.90))
    no_vector = Question("kan man frysa mjölk", "info.query")
    assert not matcher.accepts(no_vector, no_vector)


def test_a_low_cosine_is_refused_and_the_threshold_is_configurable() -> None:
    cached, incoming = pair("vad ska jag laga till middag", "vad kan jag göra till middag ikväll", 0.93)
    assert not SemanticMatcher().accepts(incoming, cached, 0.93)
    assert SemanticMatcher(threshold=0.90).accepts(incoming, cached, 0.93)


def test_different_key_entities_are_refused_at_any_cosine() -> None:
    cached, incoming = pair(
        "hur blir vädret i Stockholm",
        "hur blir vädret i Göteborg",
        0.999,
        "weather.lookup",
        (ent("place", "Stockholm", start=18),),
        (ent("place", "Göteborg", start=18),),
    )
    assert not SemanticMatcher(threshold=0.5).accepts(incoming, cached, 0.999)
    today, tomorrow = pair(
        "hur blir vädret idag",
        "hur blir vädret imorgon",
        0.999,
        "weather.lookup",
        (ent("date", "2025-03-05", "idag"),),
        (ent("date", "2025-03-06", "imorgon"),),
    )
    assert not SemanticMatcher(threshold=0.5).accepts(tomorrow, today, 0.999)


def test_negation_is_refused_at_any_cosine() -> None:
    cached, incoming = pair("är det farligt att äta rå kyckling", "är det inte farligt att äta rå kyckling", 0.996)
    assert not SemanticMatcher(threshold=0.5).accepts(incoming, cached, 0.996)


def test_a_different_tool_intent_is_refused_but_free_text_intents_mix() -> None:
    a, b = vectors_at(0.99)
    timer = Question("hur lång tid är det kvar på timern", "timer.status", (), a)
    setter = Question("sätt en timer på tiden som är kvar", "timer.set", (), b)
    assert not SemanticMatcher().accepts(setter, timer, 0.99)
    info = Question("vad är skillnaden mellan en fond och en aktie", "info.query", (), a)
    oos = Question("vad skiljer en fond från en aktie egentligen", "out_of_scope", (), b)
    assert SemanticMatcher().accepts(oos, info, 0.99)


@pytest.mark.parametrize(
    ("cached", "incoming"),
    [
        ("När öppnar biblioteket i Lund?", "Var ligger biblioteket i Lund?"),
        ("vem skrev boken om Nils Holgersson", "när skrevs boken om Nils Holgersson"),
        ("Vad är en indexfond?", "Varför ska man ha en indexfond?"),
        ("Får man röka på balkongen?", "Hur får man röka på balkongen?"),
    ],
)
def test_a_different_question_word_is_refused_at_any_cosine(cached: str, incoming: str) -> None:
    q_cached, q_incoming = pair(cached, incoming, 0.995)
    matcher = SemanticMatcher(threshold=0.5)
    assert matcher.score(q_incoming, q_cached, 0.995) is None
    assert not matcher.accepts(q_incoming, q_cached, 0.995)


@pytest.mark.parametrize(
    ("cached", "incoming"),
    [
        ("Vad är Norges huvudstad?", "Vilken stad är Norges huvudstad?"),
        ("vad kostar ett busskort", "hur mycket kostar ett busskort"),
        ("berätta vad en indexfond är", "Vad är en indexfond?"),
    ],
)
def test_compatible_question_words_are_compared_by_cosine(cached: str, incoming: str) -> None:
    assert SemanticMatcher().accepts(*pair(cached, incoming, 0.985)[::-1], 0.985)


def test_short_questions_need_a_higher_cosine_than_long_ones() -> None:
    matcher = SemanticMatcher()
    cosine = DEFAULT_THRESHOLD + 0.01
    short = pair("skriv en dikt", "skriv en vers", cosine)
    long = pair(
        "kan du förklara hur ränta på ränta fungerar när man sparar i fonder varje månad",
        "hur fungerar ränta på ränta om jag sparar i fonder varje månad under många år",
        cosine,
    )
    assert not matcher.accepts(short[1], short[0], cosine)
    assert matcher.accepts(long[1], long[0], cosine)
    assert SemanticMatcher(length_margin=0.0).accepts(short[1], short[0], cosine)


def test_default_and_invalid_thresholds() -> None:
    assert SemanticMatcher().threshold == DEFAULT_THRESHOLD
    assert SemanticMatcher(None).threshold == DEFAULT_THRESHOLD
    assert 0.9 < DEFAULT_THRESHOLD < 0.99  # e5 cosines live in 0.75-1.0: "0.8" would accept everything
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            SemanticMatcher(bad)
    with pytest.raises(ValueError, match="margin"):
        SemanticMatcher(0.95, length_margin=-0.01)


def test_a_decision_takes_well_under_a_millisecond() -> None:
    entities = (ent("place", "Göteborg", start=18), ent("date", "2025-03-06", "imorgon"))
    cached, incoming = pair(
        "hur blir vädret i Göteborg imorgon", "vad säger prognosen för Göteborg imorgon", 0.97, "weather.lookup"
    )
    cached = Question(cached.text, cached.intent, entities, cached.embedding)
    incoming = Question(incoming.text, incoming.intent, entities, incoming.embedding)
    matcher = SemanticMatcher()
    runs = 2000
    start = time.perf_counter()
    for _ in range(runs):
        matcher.accepts(incoming, cached, 0.97)
    assert (time.perf_counter() - start) / runs < 0.001
