"""Places from the gazetteer in ``places_sv.tsv``: "Göteborg", "gbg" and "goteborg" are all "Göteborg".

Lookup is a dict of folded token n-grams (one to four words), so a sentence costs a few dozen dict probes
rather than a regular expression with hundreds of alternatives. Names that are also common Swedish words or
first names ("Vara", "Mora", "Bro", "Nora") are flagged in the file and only count after a preposition; "för"
counts as one only in a travel or weather clause ("vädret för Nora", see :mod:`nlu.entities.context`), and
"med" never does ("möte med Nora" is a person, "hus med mark" no town).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Final, NamedTuple

from nlu.entities.context import place_context
from nlu.entities.spans import Span, fold

GAZETTEER_PATH: Final = Path(__file__).with_name("places_sv.tsv")
PREPOSITIONS: Final = frozenset(
    {"i", "pa", "till", "fran", "mot", "vid", "utanfor", "nara", "runt", "kring", "over", "genom", "via", "ut"}
)
_TOKEN_RE: Final = re.compile(r"\w+")
_JOINERS: Final = frozenset({" ", "-", ":", ": "})


class Place(NamedTuple):
    name: str
    needs_preposition: bool


def _key(name: str) -> str:
    return " ".join(_TOKEN_RE.findall(fold(name)))


@functools.cache
def gazetteer() -> dict[str, Place]:
    """Folded name or alias → place, read once from :data:`GAZETTEER_PATH`."""
    places: dict[str, Place] = {}
    for line in GAZETTEER_PATH.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("name\t"):
            continue
        name, _kind, _kommun, aliases, flags = line.split("\t")
        place = Place(name, "prep" in flags.split(","))
        for spelling in [name, *filter(None, aliases.split(","))]:
            # A canonical name beats another row's alias of the same spelling.
            places.setdefault(_key(spelling), place)
    return places


@functools.cache
def _longest_name() -> int:
    return max(key.count(" ") + 1 for key in gazetteer())


@functools.cache
def _first_words() -> frozenset[str]:
    """The first word of every name: most tokens are not one, and skipping them halves the cost."""
    return frozenset(key.split(" ", 1)[0] for key in gazetteer())


def is_place(name: str) -> bool:
    """Whether ``name`` (one or more words, any case or diacritics) names a place in the gazetteer."""
    return _key(name) in gazetteer()


def _lookup(key: str) -> Place | None:
    places = gazetteer()
    place = places.get(key)
    if place is None and key.endswith("s"):
        # Genitive ("Stockholms väder"), but never for names that need a preposition anyway.
        genitive = places.get(key[:-1])
        if genitive is not None and not genitive.needs_preposition:
            return genitive
    return place


def _after_preposition(folded: str, tokens: list[tuple[int, int, str]], i: int) -> bool:
    """Whether token ``i`` follows a place preposition ("i Mora"), or "för" in a weather or travel clause."""
    if i == 0:
        return False
    start, _end, word = tokens[i - 1]
    return word in PREPOSITIONS or (word == "for" and place_context(folded, start))


def find_places(folded: str) -> list[Span]:
    """Places in ``folded``, longest name first at each position (so "New York" beats "York")."""
    tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN_RE.finditer(folded)]
    spans: list[Span] = []
    i = 0
    first_words = _first_words()
    while i < len(tokens):
        matched = 0
        word = tokens[i][2]
        if word not in first_words and word[:-1] not in first_words:
            i += 1
            continue
        for n in range(min(_longest_name(), len(tokens) - i), 0, -1):
            window = tokens[i : i + n]
            if any(folded[a[1] : b[0]] not in _JOINERS for a, b in zip(window, window[1:], strict=False)):
                continue
            place = _lookup(" ".join(word for _, _, word in window))
            if place is None:
                continue
            if place.needs_preposition and not _after_preposition(folded, tokens, i):
                continue
            spans.append(Span(window[0][0], window[-1][1], "place", place.name))
            matched = n
            break
        i += matched or 1
    return spans
