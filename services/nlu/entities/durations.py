"""Durations in seconds: "fem minuter", "1,5 timme", "en kvart", "tre kvart", "1 timme och 15 minuter", and the
duration inside a compound ("tiominuterstimern", "10-minuterstimern", "tvåtimmarsmötet").

A quantity directly followed by a unit is a duration; "en"/"ett" count as 1 here because an article in front
of a unit ("en timme") means one. Adjacent parts with falling units ("1 timme och 15 minuter") are joined into
one duration, so a timer gets one value.
"""

from __future__ import annotations

import re
from typing import Final

from nlu.entities.numbers import DIGITS, QUANTITY, WORD_NUMBER, quantity_value
from nlu.entities.spans import Span, as_number

# (pattern, seconds): longest spellings first inside each pattern so the alternation takes the whole word.
_UNITS: Final[tuple[tuple[str, int], ...]] = (
    (r"sekunders|sekunder|sekund|sek|s", 1),
    (r"minuters|minuter|minut|min", 60),
    (r"kvartar|kvart", 900),
    (r"halvtimmar|halvtimmes|halvtimme|halvtimma", 1800),
    (r"timmars|timmar|timmes|timme|timma|tim|h", 3600),
    (r"dygns|dygn|dagars|dagar|dag", 86400),
    (r"veckors|veckor|veckas|vecka", 604800),
)
_UNIT_RES: Final = tuple((re.compile(pattern), seconds) for pattern, seconds in _UNITS)
_UNIT: Final = "|".join(pattern for pattern, _ in _UNITS)
_QUANTITY_UNIT_RE: Final = re.compile(rf"(?<![\w.,])(?P<qty>{QUANTITY}|en|ett)\s*-?\s*(?P<unit>{_UNIT})(?!\w)")
# A genitive unit glued to the noun it measures: "tiominuterstimern", "5-minutersäggen", "tvåtimmarsmötet".
_COMPOUND_RE: Final = re.compile(
    rf"(?<![\w.,])(?P<qty>{DIGITS}|{WORD_NUMBER})-?(?P<unit>sekunders|minuters|timmars|timmes|dygns|dagars|veckors)(?=\w)"
)
# Fixed expressions with no separate quantity: "halvtimme", "trekvart", "en halvtimme".
_FIXED_RE: Final = re.compile(r"(?<!\w)(?:(?:en|ett)\s+)?(?P<word>halvtimme|halvtimma|trekvart)(?!\w)")
_FIXED_SECONDS: Final = {"halvtimme": 1800, "halvtimma": 1800, "trekvart": 2700}
# "1 timme och 15 minuter", "1 timme, 15 minuter", "1h30min".
_JOIN_RE: Final = re.compile(r"\s*(?:,\s*)?(?:(?:och|and)\s+)?")


def _unit_seconds(unit: str) -> int:
    for pattern, seconds in _UNIT_RES:
        if pattern.fullmatch(unit):
            return seconds
    raise ValueError(unit)


def _parts(folded: str) -> list[tuple[int, int, float, int]]:
    """(start, end, seconds, unit seconds) for every single quantity + unit, in text order."""
    parts: list[tuple[int, int, float, int]] = []
    for match in _QUANTITY_UNIT_RE.finditer(folded):
        qty_text = match.group("qty")
        qty = 1 if qty_text in ("en", "ett") else quantity_value(qty_text)
        if qty is None:
            continue
        unit = _unit_seconds(match.group("unit"))
        parts.append((match.start(), match.end(), qty * unit, unit))
    for match in _COMPOUND_RE.finditer(folded):
        qty = quantity_value(match.group("qty").replace(" ", ""))
        if qty is not None and not any(s <= match.start() < e for s, e, _, _ in parts):
            unit = _unit_seconds(match.group("unit"))
            parts.append((match.start(), match.end(), qty * unit, unit))
    for match in _FIXED_RE.finditer(folded):
        if not any(s <= match.start() < e for s, e, _, _ in parts):
            seconds = _FIXED_SECONDS[match.group("word")]
            parts.append((match.start(), match.end(), seconds, seconds))
    return sorted(parts)


def find_durations(folded: str) -> list[Span]:
    """Durations in ``folded`` as spans whose value is in seconds (int when whole)."""
    merged: list[tuple[int, int, float, int]] = []
    for start, end, seconds, unit in _parts(folded):
        if merged:
            p_start, p_end, p_seconds, p_unit = merged[-1]
            # Only a smaller unit continues a duration: "5 minuter och 10 minuter" are two timers.
            if unit < p_unit and _JOIN_RE.fullmatch(folded[p_end:start]):
                merged[-1] = (p_start, end, p_seconds + seconds, unit)
                continue
        merged.append((start, end, seconds, unit))
    return [Span(start, end, "duration", as_number(seconds)) for start, end, seconds, _ in merged]
