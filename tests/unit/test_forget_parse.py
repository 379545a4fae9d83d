"""Which messages are forget requests, and which memory "glöm att …" names."""

from __future__ import annotations

import pytest

from orchestrator.forget import ForgetRequest, matches, parse_forget
from orchestrator.tools.memory import parse_store


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("glöm det", "last"),
        ("Glöm det där!", "last"),
        ("Alice, glöm vad jag just sa", "last"),
        ("kan du glömma det", None),  # not an imperative we act on: the NLU reads it
        ("glöm allt", "all"),
        ("Glöm allt om mig.", "all"),
        ("snälla glöm allt du vet om mig", "all"),
        ("glöm att min portkod är 4512", "about"),
        ("glöm bort portkoden", "about"),
        ("glöm inte att jag har nyckeln i lådan", None),  # that stores
        ("glöm timern", None),  # a timer command
        ("kom ihåg att mjölken är slut", None),
        ("jag glömde det", None),
    ],
)
def test_scope(text: str, scope: str | None) -> None:
    parsed = parse_forget(text)
    assert (parsed.scope if parsed else None) == scope


def test_about_keeps_the_users_words() -> None:
    assert parse_forget("Glöm att Min Portkod är 4512!") == ForgetRequest("about", "Min Portkod är 4512")


@pytest.mark.parametrize(
    ("what", "memory", "expected"),
    [
        ("min portkod är 4512", "min portkod är 4512", True),
        ("portkoden", "portkoden är 4512", True),
        ("min portkod", "portkoden är 4512", False),  # a different word form, no shared word
        ("cykeln", "cykeln står i källaren", True),
        ("jag har en båt", "cykeln står i källaren", False),
        ("att", "portkoden är 4512", False),  # nothing but filler names nothing
    ],
)
def test_matches(what: str, memory: str, expected: bool) -> None:
    assert matches(what, memory) is expected


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("Kom ihåg att portkoden är 4512", "portkoden är 4512"),
        ("glöm inte att Anna vill ha tillbaka boken", "Anna vill ha tillbaka boken"),
        ("Kan du berätta något kort om att odla tomater?", None),  # misread as memory.store: no memory
        ("kom ihåg det här", None),
    ],
)
def test_only_a_request_to_remember_stores_a_fact(text: str, stored: str | None) -> None:
    request = parse_store(text)
    assert (request.fact if request else None) == stored
