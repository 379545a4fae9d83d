"""The shared vocabulary of the entity extractors: a candidate span and diacritic folding.

Every extractor matches on ``fold(text)``, which has exactly the same length as ``text``, so a match's offsets
are offsets into the original text too. That is what lets the word lists be written once, without å/ä/ö, and
still match "två", "tva" and "TVÅ".
"""

from __future__ import annotations

from typing import Any, NamedTuple

# Only one-to-one replacements: folding must never change the length of the text.
_FOLD_TABLE = str.maketrans("åäöéèëêüáàóòíìñæøç", "aaoeeeeuaaooiinaoc")


class Span(NamedTuple):
    """A candidate entity before overlap resolution; ``extra`` holds type-specific keys (``expression``)."""

    start: int
    end: int
    type: str
    value: Any
    extra: dict[str, Any] | None = None


def fold(text: str) -> str:
    """Lower-case ``text`` and strip Nordic/Latin diacritics, keeping every character at its offset."""
    lowered = text.lower()
    if len(lowered) != len(text):
        # A few characters ("İ") lower-case to two code points; keep those as they were.
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return lowered.translate(_FOLD_TABLE)


def as_number(value: float) -> int | float:
    """``value`` as an int when it is whole (25.0 → 25), otherwise as a float rounded to hide binary noise."""
    if value == int(value):
        return int(value)
    return round(value, 10)
