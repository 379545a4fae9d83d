"""Forms people type: weekday abbreviations, number words written apart, and names that are also towns.

``now`` is Wednesday 14 January 2026, 10:00 in Stockholm, as in the other entity tests. The sentences are
written for these tests; none comes from the acceptance data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nlu.entities import extract_entities

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))  # a Wednesday


def _of(text: str, kind: str) -> list[dict[str, Any]]:
    found = [e for e in extract_entities(text, NOW) if e["type"] == kind]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in found)
    return found


def _pairs(text: str, kind: str) -> list[tuple[str, Any]]:
    return [(e["text"], e["value"]) for e in _of(text, kind)]


# --- weekday abbreviations -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("kan vi ses på mån", "2026-01-19", "på mån"),
        ("boka frisören på tis", "2026-01-20", "på tis"),
        ("lunch på ons", "2026-01-21", "på ons"),  # today is Wednesday: a week ahead, as "på onsdag"
        ("padel på tors", "2026-01-15", "på tors"),
        ("middag hos mormor på tor", "2026-01-15", "på tor"),
        ("lämna in rapporten på fre.", "2026-01-16", "på fre."),
        ("städa garaget på lör", "2026-01-17", "på lör"),
        ("stada garaget pa lor", "2026-01-17", "pa lor"),
        ("långpromenad på sön", "2026-01-18", "på sön"),
        ("langpromenad pa son", "2026-01-18", "pa son"),
        ("Bio på Fre", "2026-01-16", "på Fre"),
        ("planera om till nästa fre", "2026-01-23", "nästa fre"),
        ("ta det nasta tis", "2026-01-20", "nasta tis"),
        ("flytta tvättiden till tis", "2026-01-20", "tis"),
        ("skicka fakturan senast fre", "2026-01-16", "fre"),
        ("kommande lör har vi kalas", "2026-01-17", "lör"),
        ("mån kl 9 har jag tandläkaren", "2026-01-19", "mån"),
        ("tors 14.30 blir bra", "2026-01-15", "tors"),
        ("pa man kl 10 har vi planering", "2026-01-19", "pa man"),
        ("på mån kl 10 har vi planering", "2026-01-19", "på mån"),
        ("fre em funkar", "2026-01-16", "fre"),
    ],
)
def test_weekday_abbreviations_with_a_cue(text: str, value: str, span: str) -> None:
    assert _pairs(text, "date") == [(span, value)]


@pytest.mark.parametrize(
    "text",
    [
        "i mån av tid hjälper jag till",  # "as far as time permits"
        "i den mån det går",
        "det beror på man själv",  # "man" without å: the pronoun
        "nästa man till rakning",
        "man ska inte gå över ån efter vatten",
        "skicka det till min son",
        "paketet ska till son och dotter",
        "kommande son ska heta Ivar",
        "Tor är min bror",
        "skicka en hälsning till Tor",
        "han tor inte hoppa",
        "kyrkan på öns norra udde",  # "öns" folds to "ons" but is no Wednesday
        "öppet mån-fre",
        "öppet mån–fre",
        "det var en lugn fre",  # an abbreviation needs a cue, a bare full "fredag" does not
    ],
)
def test_words_that_look_like_abbreviations_are_not_dates(text: str) -> None:
    assert _of(text, "date") == []


def test_a_name_after_med_is_not_an_abbreviation_even_before_a_time() -> None:
    text = "fika med Tor kl 15"
    assert [(e["type"], e["value"]) for e in extract_entities(text, NOW)] == [("person", "Tor"), ("time", "15:00")]


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("vad gjorde vi i lördags", "2026-01-10", "i lördags"),
        ("vad gjorde vi i lordags", "2026-01-10", "i lordags"),
        ("regnade det i söndags", "2026-01-11", "i söndags"),
        ("vad åt vi förra fredagen", "2026-01-09", "förra fredagen"),
        ("vad åt vi forra fredag", "2026-01-09", "forra fredag"),
    ],
)
def test_past_weekdays_are_the_latest_before_today(text: str, value: str, span: str) -> None:
    assert _pairs(text, "date") == [(span, value)]


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("vernissage fredag den 6 mars", "2026-03-06", "fredag den 6 mars"),
        ("vernissage på fredag den 6 mars", "2026-03-06", "på fredag den 6 mars"),
        ("vernissage fredagen den 6:e mars", "2026-03-06", "fredagen den 6:e mars"),
        ("kick-off torsdag 5 februari", "2026-02-05", "torsdag 5 februari"),
        ("bokslut fre 6/3", "2026-03-06", "fre 6/3"),
        ("sista anmälan mån 2 feb", "2026-02-02", "mån 2 feb"),
        ("konsert fredag, den 6 mars", "2026-03-06", "fredag, den 6 mars"),
        ("kalas fredag den 16", "2026-01-16", "fredag den 16"),
        ("fest lördag den 17:e", "2026-01-17", "lördag den 17:e"),
        ("resa fre den 3:e", "2026-04-03", "fre den 3:e"),  # the next Friday the 3rd, not Tuesday 3 February
    ],
)
def test_a_weekday_with_an_explicit_date_is_one_date(text: str, value: str, span: str) -> None:
    assert _pairs(text, "date") == [(span, value)]


# --- number words written apart --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("det är tjugo tre grader ute", 23, "tjugo tre"),
        ("trettio fem deltagare", 35, "trettio fem"),
        ("boken har hundra tjugo sidor", 120, "hundra tjugo"),
        ("ett hundra meter kvar", 100, "ett hundra"),
        ("två tusen fem hundra steg", 2500, "två tusen fem hundra"),
        ("tre hundra fyrtio fem gram", 345, "tre hundra fyrtio fem"),
        ("tjugo tre tusen invånare", 23000, "tjugo tre tusen"),
        ("nittio nio problem", 99, "nittio nio"),
        ("tjugo en elever", 21, "tjugo en"),
        ("femti sju år", 57, "femti sju"),
    ],
)
def test_number_words_written_apart(text: str, value: int, span: str) -> None:
    assert _pairs(text, "number") == [(span, value)]


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("välj fem tio", [5, 10]),  # a list or a time, never 510 or 15
        ("tio fem", [10, 5]),
        ("tjugo, tre", [20, 3]),
        ("fyrtio tretton", [40, 13]),  # only a unit 1–9 completes a ten
        ("tusen en gång till", [1000]),  # a lone "en" after a spaced "tusen" is an article
        ("hundra ett äpple", [100]),
        ("sex sju åtta", [6, 7, 8]),
    ],
)
def test_separate_numbers_stay_apart(text: str, numbers: list[int]) -> None:
    assert [value for _, value in _pairs(text, "number")] == numbers


@pytest.mark.parametrize(
    ("text", "seconds", "span"),
    [
        ("sätt en timer på tjugo fem minuter", 1500, "tjugo fem minuter"),
        ("timer fyrtio fem sekunder", 45, "fyrtio fem sekunder"),
        ("ugnen i trettio fem minuter", 2100, "trettio fem minuter"),
    ],
)
def test_durations_with_number_words_apart(text: str, seconds: int, span: str) -> None:
    assert _pairs(text, "duration") == [(span, seconds)]
    assert _of(text, "number") == []


@pytest.mark.parametrize(
    ("text", "value", "span"),
    [
        ("väck mig klockan tjugo tre", "23:00", "klockan tjugo tre"),
        ("kl tjugo två på kvällen", "22:00", "kl tjugo två på kvällen"),
        ("bussen går tjugo fem över sex", "18:25", "tjugo fem över sex"),
        ("tåget går tjugo fem i halv åtta", "07:05", "tjugo fem i halv åtta"),
    ],
)
def test_clock_times_with_number_words_apart(text: str, value: str, span: str) -> None:
    assert _pairs(text, "time") == [(span, value)]
    assert _of(text, "number") == []


@pytest.mark.parametrize(
    ("text", "value", "expression", "span"),
    [
        ("vad blir hundra tjugo delat med fyra", 30, "120/4", "hundra tjugo delat med fyra"),
        ("räkna tjugo tre plus tjugo fem", 48, "23+25", "tjugo tre plus tjugo fem"),
        ("två tusen fem hundra minus tre hundra", 2200, "2500-300", "två tusen fem hundra minus tre hundra"),
    ],
)
def test_arithmetic_with_number_words_apart(text: str, value: int, expression: str, span: str) -> None:
    found = _of(text, "expression")
    assert [(e["text"], e["value"], e["expression"]) for e in found] == [(span, value, expression)]


def test_a_date_in_days_written_apart() -> None:
    assert _pairs("påminn mig om tjugo en dagar", "date") == [("om tjugo en dagar", "2026-02-04")]


# --- names that are also towns ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "people", "places"),
    [
        # A first name and a surname that is a town: one person, no place.
        ("boka lunch med Erik Lund", [("Erik Lund", "Erik Lund")], []),
        ("skicka inbjudan till Karin Falun", [("Karin Falun", "Karin Falun")], []),
        ("åk till Sofia Lund i helgen", [("Sofia Lund", "Sofia Lund")], []),
        # A town as a first name, because a surname follows.
        ("mejla till Mora Andersson", [("Mora Andersson", "Mora Andersson")], []),
        # ...but not a station or district after a town.
        ("tåget till Lund Centrum", [], [("Lund", "Lund")]),
        # Travel and weather make a town the place, even one that is a first name.
        ("åk till Lund imorgon", [], [("Lund", "Lund")]),
        ("tåget till Mora går kl 8", [], [("Mora", "Mora")]),
        ("jag ska åka till Nora", [], [("Nora", "Nora")]),
        ("flyg till Sofia", [], [("Sofia", "Sofia")]),
        ("hur långt är det till Sofia", [], [("Sofia", "Sofia")]),
        ("hur blir vädret för Nora", [], [("Nora", "Nora")]),
        ("vadret for nora imorgon", [], [("nora", "Nora")]),
        ("vädret i Lund", [], [("Lund", "Lund")]),
        # Reaching a person wins over a weather word in the same clause.
        ("skicka vädret till Sofia", [("Sofia", "Sofia")], []),
        # Without travel or weather, a first name is a person.
        ("ring till Nora", [("Nora", "Nora")], []),
        ("köp en present för Sofia", [("Sofia", "Sofia")], []),
        ("boka möte med Nora", [("Nora", "Nora")], []),
        ("åk med Nora till Mora", [("Nora", "Nora")], [("Mora", "Mora")]),
        # "med" and a town alone: the town, unless it is a first name; a town flagged as a word needs "i"/"till".
        ("möte med Lund", [], [("Lund", "Lund")]),
        ("möte med Mora", [], []),
        ("hus med mark", [], []),
        # No trigger, no person; a flagged town needs a preposition.
        ("ring Sala", [], []),
    ],
)
def test_names_that_are_also_towns(text: str, people: list[tuple[str, str]], places: list[tuple[str, str]]) -> None:
    assert (_pairs(text, "person"), _pairs(text, "place")) == (people, places)
