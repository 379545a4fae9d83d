"""Entity extraction of people and places (the gazetteer)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from nlu.entities import extract_entities
from nlu.entities.places import gazetteer

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))


def _pairs(text: str, kind: str) -> list[tuple[str, str]]:
    found = [e for e in extract_entities(text, NOW) if e["type"] == kind]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in found)
    return [(e["text"], e["value"]) for e in found]


@pytest.mark.parametrize(
    ("text", "people"),
    [
        ("möte med Anna imorgon", [("Anna", "Anna")]),
        ("mejla till Erik Johansson", [("Erik Johansson", "Erik Johansson")]),
        ("boka möte med anna", [("anna", "Anna")]),
        ("boka möte med anna svensson på fredag", [("anna svensson", "Anna Svensson")]),
        ("lunch med Anna-Karin Svensson", [("Anna-Karin Svensson", "Anna-Karin Svensson")]),
        ("köp en present åt Maja", [("Maja", "Maja")]),
        ("boka bord för Oskar", [("Oskar", "Oskar")]),
        ("skicka till Zlatan", [("Zlatan", "Zlatan")]),
        ("mejla till Erik Lund om mötet", [("Erik Lund", "Erik Lund")]),  # a surname that is also a town
        ("mejla Karin att jag är sjuk", [("Karin", "Karin")]),  # a contact verb names its person
        ("ring Erik Lund imorgon", [("Erik Lund", "Erik Lund")]),
        ("maila styrelsen om årsmötet", []),  # a role, not a name
        ("skicka mejl till anna@example.com", []),  # inside the e-mail address
        ("möte med Anna och Pelle fredag 9", [("Anna", "Anna"), ("Pelle", "Pelle")]),
        ("boka möte med Nora", [("Nora", "Nora")]),  # a first name before it is a town
    ],
)
def test_people_after_a_trigger(text: str, people: list[tuple[str, str]]) -> None:
    assert _pairs(text, "person") == people


@pytest.mark.parametrize(
    "text",
    [
        "möte med hans chef",  # "hans" is "his" in lower case
        "möte med Fredag",
        "åk till Stockholm",
        "påminn mig om att köpa mjölk till middagen",
        "Hej Alice, prata med Alice",
        "Moa fyller fem år på lördag",  # no trigger: not promised by the contract
        "boka bord för fyra",
    ],
)
def test_not_people(text: str) -> None:
    assert _pairs(text, "person") == []


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("vädret i Göteborg", [("Göteborg", "Göteborg")]),
        ("vadret i goteborg", [("goteborg", "Göteborg")]),
        ("väder gbg imorgon", [("gbg", "Göteborg")]),
        ("väder i sthlm", [("sthlm", "Stockholm")]),
        ("regnar det i stockholm", [("stockholm", "Stockholm")]),
        ("vädret i malmo", [("malmo", "Malmö")]),
        ("Stockholms väder", [("Stockholms", "Stockholm")]),
        ("kolla vädret i Lund", [("Lund", "Lund")]),
        ("flyg till New York", [("New York", "New York")]),
        ("hotell i los angeles", [("los angeles", "Los Angeles")]),
        ("tåg från Köpenhamn till Oslo", [("Köpenhamn", "Köpenhamn"), ("Oslo", "Oslo")]),
        ("vädret i Helsingfors", [("Helsingfors", "Helsingfors")]),
        ("bor i Upplands-Bro", [("Upplands-Bro", "Upplands-Bro")]),
        ("åk till mora", [("mora", "Mora")]),
        ("vädret i Vara", [("Vara", "Vara")]),
        ("hur långt är det mellan Umeå och Luleå", [("Umeå", "Umeå"), ("Luleå", "Luleå")]),
        ("vi planerar en resa till Japan", [("Japan", "Japan")]),
        ("semester i Grekland nästa år", [("Grekland", "Grekland")]),
        ("vädret på Island", [("Island", "Island")]),
    ],
)
def test_places(text: str, places: list[tuple[str, str]]) -> None:
    assert _pairs(text, "place") == places


@pytest.mark.parametrize(
    "text", ["det kan vara bra", "Mora är fint", "bro över ån", "tänd lampan i köket", "ska vi ta en ale"]
)
def test_place_names_that_are_common_words_need_a_preposition(text: str) -> None:
    assert _pairs(text, "place") == []


def test_the_gazetteer_has_every_municipal_seat() -> None:
    from nlu.entities.places import GAZETTEER_PATH

    rows = [line.split("\t") for line in GAZETTEER_PATH.read_text(encoding="utf-8").splitlines()]
    seats = [row[0] for row in rows if len(row) == 5 and row[1] == "centralort"]
    assert len(seats) == len(set(seats)) == 290
    assert {"Göteborg", "Kiruna", "Visby", "Mölnlycke", "Ystad"} <= set(seats)
    assert len({p.name for p in gazetteer().values()}) > 400
