"""Numbers written with digits ("15", "1,5", "2 500") or Swedish words ("tjugotre", "tvåhundra", "en halv").

Swedish writes compound numbers as one word ("hundratjugo", "tretusenfemhundra"), so the grammar is a regular
expression over whole words; the value comes from splitting the word at "tusen" and "hundra". People also type
the parts apart, and a single space may join them where the reading is unambiguous: a ten and a unit 1–9
("tjugo tre" 23), a multiplier and "hundra"/"tusen" ("två hundra", "fem tusen") and what follows "hundra"/"tusen"
("hundra tjugo" 120, "två tusen fem hundra" 2500). Two small numbers side by side stay apart ("fem tio" may be
a list or a time), and a lone "en"/"ett" after a spaced "hundra"/"tusen" is left to be an article ("tusen en
gång"). "en"/"ett" alone are articles far more often than numbers, so they only count inside a longer form ("en
och en halv", "ett par") or in front of a unit, which the duration extractor handles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from nlu.entities.spans import Span, as_number

UNITS: Final[dict[str, int]] = {
    "noll": 0, "en": 1, "ett": 1, "tva": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "sju": 7, "atta": 8,
    "nio": 9, "tio": 10, "elva": 11, "tolv": 12, "tretton": 13, "fjorton": 14, "femton": 15, "sexton": 16,
    "sjutton": 17, "arton": 18, "aderton": 18, "nitton": 19,
}  # fmt: skip
TENS: Final[dict[str, int]] = {
    "tjugo": 20, "tjugu": 20, "trettio": 30, "tretti": 30, "fyrtio": 40, "fyrti": 40, "femtio": 50,
    "femti": 50, "sextio": 60, "sexti": 60, "sjuttio": 70, "sjutti": 70, "attio": 80, "atti": 80,
    "nittio": 90, "nitti": 90,
}  # fmt: skip
_DIGIT_WORDS: Final = ("en", "ett", "tva", "tre", "fyra", "fem", "sex", "sju", "atta", "nio")


def _alt(words: Iterable[str]) -> str:
    # Longest first, so that "fjorton" is tried before "fyra"-like prefixes and "tjugo" before "tjugu".
    return "|".join(sorted(words, key=len, reverse=True))


_ONE_TO_NINE = _alt(_DIGIT_WORDS)
# A ten and its unit, written together or apart: "tjugotre", "tjugo tre".
_BELOW_100 = rf"(?:(?:{_alt(TENS)})(?: ?(?:{_ONE_TO_NINE}))?|{_alt(UNITS)})"
# What follows "hundra"/"tusen": glued on ("hundratjugo"), or after one space but never a lone article.
_NOT_AN_ARTICLE = r"(?!(?:en|ett)(?!\w))"


def _rest(part: str) -> str:
    return rf"(?:{part}| {_NOT_AN_ARTICLE}{part})"


_BELOW_1000 = rf"(?:(?:(?:{_ONE_TO_NINE}) ?)?hundra{_rest(_BELOW_100)}?|{_BELOW_100})"
#: A whole number word in folded text, "en"/"ett" included (callers decide whether they stand alone); the parts
#: may be written apart ("två tusen fem hundra"), so callers drop the spaces before :func:`word_value`.
WORD_NUMBER: Final = rf"(?:(?:{_BELOW_1000} ?)?tusen{_rest(_BELOW_1000)}?|{_BELOW_1000})"
#: Digits: "2 500" (space-grouped thousands), "1,5", "42".
DIGITS: Final = r"(?:\d{1,3}(?:[ \u00a0]\d{3})+(?![\d,.]\d)|\d+(?:[.,]\d+)?)"
_HALF = r"(?:en\s+halv|ett\s+halvt)"
#: A quantity as the other extractors need it: digits, words, "N och en halv", "en halv", "ett par".
QUANTITY: Final = rf"(?:{_HALF}|ett\s+par|(?:{DIGITS}|{WORD_NUMBER})(?:\s+och\s+{_HALF})?)"

_NUMBER_RE: Final = re.compile(rf"(?<![\w.,]){QUANTITY}(?![\w]|[.,]\d)")
_HALF_RE: Final = re.compile(rf"\s+och\s+{_HALF}$")
_WORD_RE: Final = re.compile(rf"{WORD_NUMBER}")
_ARTICLES: Final = frozenset({"en", "ett"})
# Idioms where a number word is no quantity: "tusen tack".
_IDIOM_RE: Final = re.compile(r"tusen\s+(?:tack|tak)(?!\w)")


def _below_1000(word: str) -> int | None:
    if "hundra" in word:
        head, _, tail = word.partition("hundra")
        multiplier = UNITS.get(head, 0) if head else 1
        if head and head not in _DIGIT_WORDS:
            return None
        rest = _below_100(tail) if tail else 0
        return None if rest is None else multiplier * 100 + rest
    return _below_100(word)


def _below_100(word: str) -> int | None:
    if word in UNITS:
        return UNITS[word]
    for tens, value in TENS.items():
        if word.startswith(tens):
            rest = word[len(tens) :]
            if not rest:
                return value
            if rest in _DIGIT_WORDS:
                return value + UNITS[rest]
    return None


def word_value(word: str) -> int | None:
    """The value of one folded Swedish number word ("tvahundratjugo", "tva hundra tjugo" → 220); None if not one."""
    word = "".join(word.split())
    if "tusen" in word:
        head, _, tail = word.partition("tusen")
        multiplier = _below_1000(head) if head else 1
        rest = _below_1000(tail) if tail else 0
        if multiplier is None or rest is None:
            return None
        return multiplier * 1000 + rest
    return _below_1000(word)


def quantity_value(folded: str) -> int | float | None:
    """The value of a folded :data:`QUANTITY` match ("1,5", "2 500", "en och en halv", "ett par")."""
    token = folded.strip()
    half = 0.0
    tail = _HALF_RE.search(token)
    if tail:
        half, token = 0.5, token[: tail.start()]
    if re.fullmatch(r"en\s+halv|ett\s+halvt", token):
        return 0.5
    if re.fullmatch(r"ett\s+par", token):
        return 2
    if token[:1].isdigit():
        compact = re.sub(r"[ \u00a0]", "", token)
        if re.fullmatch(r"\d+", compact):
            return as_number(int(compact) + half)
        return as_number(float(compact.replace(",", ".")) + half)
    value = word_value(token) if _WORD_RE.fullmatch(token) else None
    return None if value is None else as_number(value + half)


def find_numbers(folded: str) -> list[Span]:
    """Every number in ``folded``, except a bare "en"/"ett" (an article until proven otherwise)."""
    spans: list[Span] = []
    for match in _NUMBER_RE.finditer(folded):
        if match.group(0) in _ARTICLES or _IDIOM_RE.match(folded, match.start()):
            continue
        value = quantity_value(match.group(0))
        if value is not None:
            spans.append(Span(match.start(), match.end(), "number", value))
    return spans
