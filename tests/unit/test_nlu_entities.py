"""Entity extraction: numbers, durations, clock times, dates, contacts and arithmetic, with offsets.

``now`` is fixed at Wednesday 14 January 2026, 10:00 in Stockholm, the same as the annotated test data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nlu.entities import extract_entities

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))  # a Wednesday


def _of(text: str, kind: str, now: datetime = NOW) -> list[dict[str, Any]]:
    return [e for e in extract_entities(text, now) if e["type"] == kind]


def _one(text: str, kind: str, now: datetime = NOW) -> dict[str, Any]:
    found = _of(text, kind, now)
    assert len(found) == 1, (text, extract_entities(text, now))
    entity = found[0]
    assert text[entity["start"] : entity["end"]] == entity["text"]
    return entity


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("jag vill ha 15 stycken", 15, "15"),
        ("det tar 1,5 liter", 1.5, "1,5"),
        ("vi var 2 500 personer", 2500, "2 500"),
        ("vi var 2500 personer", 2500, "2500"),
        ("ge mig fem", 5, "fem"),
        ("tjugotre grader", 23, "tjugotre"),
        ("hundratjugo sidor", 120, "hundratjugo"),
        ("tvåhundra gram", 200, "tvåhundra"),
        ("tva hundra gram", 200, "tva hundra"),
        ("ungefär tusen kronor", 1000, "tusen"),
        ("sjuttioåtta år", 78, "sjuttioåtta"),
        ("tretusenfemhundra steg", 3500, "tretusenfemhundra"),
        ("ta en halv tablett", 0.5, "en halv"),
        ("en och en halv kopp mjöl", 1.5, "en och en halv"),
        ("köp ett par bananer", 2, "ett par"),
        ("atta katter", 8, "atta"),
    ],
)
def test_numbers(text: str, value: float, span: str) -> None:
    entity = _one(text, "number")
    assert (entity["value"], entity["text"]) == (value, span)
    assert type(entity["value"]) is type(value)


@pytest.mark.parametrize("text", ["en katt", "jag vill ha ett äpple", "tusen tack för hjälpen", "Vad heter du?"])
def test_articles_and_idioms_are_not_numbers(text: str) -> None:
    assert extract_entities(text, NOW) == []


@pytest.mark.parametrize(
    ("text", "seconds", "span"),
    [
        ("sätt en timer på fem minuter", 300, "fem minuter"),
        ("timer 10 min", 600, "10 min"),
        ("koka i 1,5 timme", 5400, "1,5 timme"),
        ("det tar en och en halv timme", 5400, "en och en halv timme"),
        ("sätt timer på en kvart", 900, "en kvart"),
        ("påminn mig om en halvtimme", 1800, "en halvtimme"),
        ("vila en halv timme", 1800, "en halv timme"),
        ("baka i tre kvart", 2700, "tre kvart"),
        ("timer 90 sek", 90, "90 sek"),
        ("ladda i 2 h", 7200, "2 h"),
        ("sätt timer på 1 timme och 15 minuter", 4500, "1 timme och 15 minuter"),
        ("sätt en timer på 1 timme, 15 minuter, och 30 sekunder", 4530, "1 timme, 15 minuter, och 30 sekunder"),
        ("låt degen jäsa ett dygn", 86400, "ett dygn"),
        ("Sätt en timer på en halv minut", 30, "en halv minut"),
        ("ställ in en timer på tjugofem minuter", 1500, "tjugofem minuter"),
        ("timer pa tva minuter", 120, "tva minuter"),
        ("vänta ett par minuter", 120, "ett par minuter"),
        ("om 3,5 timmar", 12600, "3,5 timmar"),
        ("stoppa tiominuterstimern", 600, "tiominuters"),
        ("hur mycket är kvar på 5-minuterstimern", 300, "5-minuters"),
        ("en tjugofemminuterstimer för pastan", 1500, "tjugofemminuters"),
        ("boka ett tvåtimmarsmöte", 7200, "tvåtimmars"),
    ],
)
def test_durations_in_seconds(text: str, seconds: int, span: str) -> None:
    entity = _one(text, "duration")
    assert (entity["value"], entity["text"]) == (seconds, span)
    assert isinstance(entity["value"], int)
    assert _of(text, "number") == []


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("boka möte kl 14", "14:00", "kl 14"),
        ("vi ses 14.30", "14:30", "14.30"),
        ("vi ses 14:30", "14:30", "14:30"),
        ("ring mig klockan tre", "15:00", "klockan tre"),
        ("frisör halv tre", "14:30", "halv tre"),
        ("middag halv ett", "12:30", "halv ett"),
        ("möte kvart i fem", "16:45", "kvart i fem"),
        ("träning kvart över sex", "18:15", "kvart över sex"),
        ("träning kvart over sex", "18:15", "kvart over sex"),
        ("väck mig tio i åtta", "07:50", "tio i åtta"),
        ("tåget går fem i halv åtta", "07:25", "fem i halv åtta"),
        ("larm 08:00", "08:00", "08:00"),
        ("möte kl 09", "09:00", "kl 09"),
        ("möte kl 9", "09:00", "kl 9"),
        ("möte kl 3", "15:00", "kl 3"),
        ("ses kl 7", "19:00", "kl 7"),
        ("middag kl 8 på kvällen", "20:00", "kl 8 på kvällen"),
        ("väck mig klockan sju på morgonen", "07:00", "klockan sju på morgonen"),
        ("jobba kl 5 på förmiddagen", "05:00", "kl 5 på förmiddagen"),
        ("middag kl 8 em", "20:00", "kl 8 em"),
        ("frukost kl 7 fm", "07:00", "kl 7 fm"),
        ("vakna kl 12 på natten", "00:00", "kl 12 på natten"),
        ("ikväll kl 8", "20:00", "kl 8"),
        ("kl 1430", "14:30", "kl 1430"),
        ("kl 23", "23:00", "kl 23"),
        ("vid tretiden", "15:00", "tretiden"),
        ("tandläkare 9:30 fredag", "09:30", "9:30"),
    ],
)
def test_clock_times(text: str, value: str, span: str) -> None:
    entity = _one(text, "time")
    assert (entity["value"], entity["text"]) == (value, span)


@pytest.mark.parametrize("text", ["det kostar 3.45 kr", "år 2026", "jag har tre katter", "2026-01-14"])
def test_things_that_are_not_clock_times(text: str) -> None:
    assert _of(text, "time") == []


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("vad händer idag", "2026-01-14", "idag"),
        ("vad händer i dag", "2026-01-14", "i dag"),
        ("boka imorgon", "2026-01-15", "imorgon"),
        ("boka i morgon", "2026-01-15", "i morgon"),
        ("väder imorn", "2026-01-15", "imorn"),
        ("vad gör vi i övermorgon", "2026-01-16", "i övermorgon"),
        ("vad gör vi i overmorgon", "2026-01-16", "i overmorgon"),
        ("vad hände igår", "2026-01-13", "igår"),
        ("vad hände igar", "2026-01-13", "igar"),
        ("boka tid på fredag", "2026-01-16", "på fredag"),
        ("boka tid pa fredag", "2026-01-16", "pa fredag"),
        ("fredag passar", "2026-01-16", "fredag"),
        ("möte på onsdag", "2026-01-21", "på onsdag"),  # today is Wednesday: a week ahead
        ("boka tid på måndag", "2026-01-19", "på måndag"),
        ("boka tid pa lordag", "2026-01-17", "pa lordag"),
        ("ses nästa vecka", "2026-01-19", "nästa vecka"),
        ("ses nasta vecka", "2026-01-19", "nasta vecka"),
        ("ses nästa fredag", "2026-01-23", "nästa fredag"),
        ("ses nästa onsdag", "2026-01-21", "nästa onsdag"),
        ("ses den 3 mars", "2026-03-03", "den 3 mars"),
        ("ses 3/3", "2026-03-03", "3/3"),
        ("ses den 10 januari", "2027-01-10", "den 10 januari"),  # already past this year
        ("ses den 14 januari", "2026-01-14", "den 14 januari"),
        ("ses den första februari", "2026-02-01", "den första februari"),
        ("ses den 3:e mars", "2026-03-03", "den 3:e mars"),
        ("fest den 20 februari 2027", "2027-02-20", "den 20 februari 2027"),
        ("påminn mig om tre dagar", "2026-01-17", "om tre dagar"),
        ("vilket datum är det om en vecka", "2026-01-21", "om en vecka"),
        ("vad gjorde jag i fredags", "2026-01-09", "i fredags"),
        ("snöar det i helgen", "2026-01-17", "i helgen"),
        ("deadline 2026-03-01", "2026-03-01", "2026-03-01"),
    ],
)
def test_dates_relative_to_now(text: str, value: str, span: str) -> None:
    entity = _one(text, "date")
    assert (entity["value"], entity["text"]) == (value, span)


def test_a_friday_on_a_friday_is_a_week_ahead_and_now_defaults_to_today() -> None:
    friday = datetime(2026, 1, 16, 9, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    assert _one("på fredag", "date", friday)["value"] == "2026-01-23"
    assert _one("nästa fredag", "date", friday)["value"] == "2026-01-23"
    assert _one("idag", "date", datetime(2026, 1, 14, 23, 30, tzinfo=ZoneInfo("UTC")))["value"] == "2026-01-15"
    assert len(_of("imorgon", "date", datetime.now())) == 1  # naive now is taken as local


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("skriv till Anna.Berg@Example.se om fakturan", "anna.berg@example.se", "Anna.Berg@Example.se"),
        ("mejla per@x.se.", "per@x.se", "per@x.se"),
    ],
)
def test_email_addresses_are_lowercased(text: str, value: str, span: str) -> None:
    entity = _one(text, "email")
    assert (entity["value"], entity["text"]) == (value, span)
    assert [e["type"] for e in extract_entities(text, NOW)] == ["email"]


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("ring 070-123 45 67", "+46701234567", "070-123 45 67"),
        ("ring 0701234567 nu", "+46701234567", "0701234567"),
        ("ring +46 70 123 45 67", "+46701234567", "+46 70 123 45 67"),
        ("ring 08-123 456 78", "+46812345678", "08-123 456 78"),
        ("ring 031-390 06 55 idag", "+46313900655", "031-390 06 55"),
    ],
)
def test_phone_numbers_in_e164(text: str, value: str, span: str) -> None:
    entity = _one(text, "phone")
    assert (entity["value"], entity["text"]) == (value, span)


@pytest.mark.parametrize("text", ["år 2026", "det kostar 2 500 kr", "sätt timer på 10 minuter", "kod 12345678"])
def test_years_money_and_timers_are_not_phone_numbers(text: str) -> None:
    assert _of(text, "phone") == []


@pytest.mark.parametrize(
    ("text", "value", "expression", "span"),
    [
        ("räkna ut 150 delat med 6", 25, "150/6", "150 delat med 6"),
        ("hur mycket är 15 % av 2500 kr", 375, "2500*15/100", "15 % av 2500 kr"),
        ("ta 20 procent av 450", 90, "450*20/100", "20 procent av 450"),
        ("vad blir fem gånger sju", 35, "5*7", "fem gånger sju"),
        ("vad blir fem ganger sju", 35, "5*7", "fem ganger sju"),
        ("vad är 12 plus 30", 42, "12+30", "12 plus 30"),
        ("100 minus 7", 93, "100-7", "100 minus 7"),
        ("2 upphöjt till 10", 1024, "2^10", "2 upphöjt till 10"),
        ("roten ur 81", 9, "sqrt(81)", "roten ur 81"),
        ("3+4*2", 11, "3+4*2", "3+4*2"),
        ("(3+4)*2", 14, "(3+4)*2", "(3+4)*2"),
        ("vad blir 7 delat med 2", 3.5, "7/2", "7 delat med 2"),
        ("vad blir 2 i kvadrat", 4, "2^2", "2 i kvadrat"),
        ("10 - 4 - 3", 3, "10-4-3", "10 - 4 - 3"),
        ("vad är 3/3?", 1, "3/3", "3/3"),
        ("1,5 gånger 8", 12, "1.5*8", "1,5 gånger 8"),
    ],
)
def test_arithmetic(text: str, value: float, expression: str, span: str) -> None:
    entity = _one(text, "expression")
    assert (entity["value"], entity["expression"], entity["text"]) == (value, expression, span)
    assert _of(text, "number") == []


@pytest.mark.parametrize("text", ["vad är 5 delat med 0", "räkna 9 upphöjt till 99999", "roten ur minus 4"])
def test_impossible_arithmetic_yields_no_expression(text: str) -> None:
    assert _of(text, "expression") == []


@pytest.mark.parametrize(
    "text",
    [
        "mejla per@x.se om 5 minuter, kl 10:15, 42",
        "boka möte med anna svensson imorgon kl 14 i Göteborg, ring 070-123 45 67",
        "vad är 15 % av 2500 kr och ring 08-123 456 78 om tre dagar halv tre",
        "sätt en timer på en och en halv timme och mejla Erik.Lund@firma.se på fredag",
    ],
)
def test_offsets_are_exact_and_spans_never_overlap(text: str) -> None:
    entities = extract_entities(text, NOW)
    assert entities == sorted(entities, key=lambda e: e["start"])
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert set(entity) >= {"type", "value", "text", "start", "end"}
    for left, right in zip(entities, entities[1:], strict=False):
        assert left["end"] <= right["start"]


def test_a_busy_sentence_gets_every_type_once() -> None:
    text = "mejla per@x.se om 5 minuter, kl 10:15, 42"
    assert [(e["type"], e["value"]) for e in extract_entities(text, NOW)] == [
        ("email", "per@x.se"),
        ("duration", 300),
        ("time", "10:15"),
        ("number", 42),
    ]


@pytest.mark.parametrize(
    "text", ["Vad heter du?", "Hej Alice, sätt en timer", "tänd lampan i köket", "hur mår du", "berätta en saga"]
)
def test_plain_sentences_have_no_entities(text: str) -> None:
    assert extract_entities(text, NOW) == []


def test_two_cats_are_a_number_and_nothing_else() -> None:
    assert [(e["type"], e["value"]) for e in extract_entities("Jag har två katter", NOW)] == [("number", 2)]
