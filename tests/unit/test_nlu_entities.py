"""Entity extraction: types, values and character offsets."""

from __future__ import annotations

import pytest

from nlu.entities import extract_entities, parse_number


def _only(text: str, kind: str) -> list[dict[str, object]]:
    return [e for e in extract_entities(text) if e["type"] == kind]


@pytest.mark.parametrize(
    ("text", "seconds", "span"),
    [
        ("sätt en timer på fem minuter", 300, "fem minuter"),
        ("timer 10 min", 600, "10 min"),
        ("starta en 45 sekunder timer", 45, "45 sekunder"),
        ("påminn mig om en halvtimme", 1800, "en halvtimme"),
        ("sätt timer på en kvart", 900, "en kvart"),
        ("Sätt en timer på en halv minut", 30, "en halv minut"),
        ("sätt en timer på 1 timme, 15 minuter, och 30 sekunder", 4530, "1 timme, 15 minuter, och 30 sekunder"),
        ("ställ in en timer på tjugofem minuter", 1500, "tjugofem minuter"),
        ("sätt timer på 1h", 3600, "1h"),
        ("om 3,5 timmar", 12600, "3,5 timmar"),
    ],
)
def test_durations_in_seconds_with_offsets(text: str, seconds: int, span: str) -> None:
    (entity,) = _only(text, "duration")
    assert entity["value"] == seconds
    assert entity["text"] == span
    assert text[entity["start"] : entity["end"]] == span  # type: ignore[misc]


def test_email_address_is_found_and_lowercased() -> None:
    text = "skriv ett mail till Anna.Berg@Example.se om fakturan"
    (entity,) = _only(text, "email")
    assert entity["value"] == "anna.berg@example.se"
    assert text[entity["start"] : entity["end"]] == "Anna.Berg@Example.se"  # type: ignore[misc]
    assert _only(text, "number") == []


def test_numbers_digits_decimals_and_words() -> None:
    entities = extract_entities("vad är 12 gånger 7 plus 3,5 och tjugotre")
    assert [(e["type"], e["value"], e["text"]) for e in entities] == [
        ("number", 12, "12"),
        ("number", 7, "7"),
        ("number", 3.5, "3,5"),
        ("number", 23, "tjugotre"),
    ]


def test_clock_time_is_not_split_into_numbers() -> None:
    entities = extract_entities("boka möte imorgon 13:30 med Kalle")
    assert [(e["type"], e["value"], e["start"], e["end"]) for e in entities] == [("time", "13:30", 18, 23)]


def test_article_en_is_not_a_number_and_plain_text_has_nothing() -> None:
    assert extract_entities("Hej Alice, sätt en timer") == []
    assert extract_entities("tänd lampan i köket") == []


def test_spans_never_overlap() -> None:
    entities = extract_entities("mejla per@x.se om 5 minuter, kl 10:15, 42")
    ranges = sorted((e["start"], e["end"]) for e in entities)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(ranges, ranges[1:], strict=False))
    assert {e["type"] for e in entities} == {"email", "duration", "time", "number"}


@pytest.mark.parametrize(
    ("token", "value"), [("fem", 5), ("sjuttioåtta", 78), ("nittio", 90), ("3,25", 3.25), ("40", 40), ("hej", None)]
)
def test_parse_number(token: str, value: float | None) -> None:
    assert parse_number(token) == value
