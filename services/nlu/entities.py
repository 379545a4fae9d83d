"""Minimal Swedish entity extraction: e-mail addresses, clock times, durations and numbers.

Each entity is ``{"type", "value", "text", "start", "end"}`` with character offsets into the original text
(``text[start:end] == entity["text"]``). Durations are in seconds; numbers are ``int`` or ``float``. Spans never
overlap: an e-mail address or a duration claims its characters before the number pass runs. A later issue
builds the full set (dates, names, places).
"""

from __future__ import annotations

import re
from typing import Any, Final

Entity = dict[str, Any]

_SMALL: Final[dict[str, int]] = {
    "noll": 0, "en": 1, "ett": 1, "två": 2, "tva": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "sju": 7,
    "åtta": 8, "atta": 8, "nio": 9, "tio": 10, "elva": 11, "tolv": 12, "tretton": 13, "fjorton": 14,
    "femton": 15, "sexton": 16, "sjutton": 17, "arton": 18, "aderton": 18, "nitton": 19, "hundra": 100,
    "tusen": 1000,
}  # fmt: skip
_TENS: Final[dict[str, int]] = {
    "tjugo": 20, "trettio": 30, "fyrtio": 40, "femtio": 50, "sextio": 60, "sjuttio": 70, "åttio": 80,
    "attio": 80, "nittio": 90,
}  # fmt: skip
_ONES: Final = ("en", "ett", "två", "tva", "tre", "fyra", "fem", "sex", "sju", "åtta", "atta", "nio")
_UNIT_SECONDS: Final[tuple[tuple[str, int], ...]] = (
    (r"sekunders|sekunder|sekund|sek|s", 1),
    (r"minuters|minuter|minut|min", 60),
    (r"timmars|timmar|timmes|timme|tim|h", 3600),
    (r"dagars|dagar|dygn|dag", 86400),
)

_WORD_NUMBER = (
    r"(?:" + "|".join(_TENS) + r")(?:" + "|".join(_ONES) + r")?"
    r"|" + "|".join(sorted((w for w in _SMALL if w not in ("en", "ett")), key=len, reverse=True))
)
_DIGITS = r"\d+(?:[.,]\d+)?"
_QTY = rf"(?P<qty>{_DIGITS}|{_WORD_NUMBER}|en halv|ett halvt|halv|en|ett)"
_UNIT = r"(?P<unit>" + "|".join(pattern for pattern, _ in _UNIT_SECONDS) + r")"

EMAIL_RE: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
TIME_RE: Final = re.compile(r"\b(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)\b")
DURATION_RE: Final = re.compile(rf"\b{_QTY}\s*-?\s*{_UNIT}\b", re.IGNORECASE)
SPECIAL_DURATION_RE: Final = re.compile(
    r"\b(?P<special>en halvtimme|halvtimme|en halvtimma|en kvart|kvart|trekvart|en trekvart)\b", re.IGNORECASE
)
NUMBER_RE: Final = re.compile(rf"(?<![\w.,]){_DIGITS}(?![\w]|[.,]\d)|\b(?:{_WORD_NUMBER})\b", re.IGNORECASE)
_JOIN_RE: Final = re.compile(r"\s*(?:,\s*)?(?:(?:och|and)\s+)?", re.IGNORECASE)
_SPECIAL_SECONDS: Final = {"halvtimme": 1800, "halvtimma": 1800, "kvart": 900, "trekvart": 2700}


def parse_number(token: str) -> int | float | None:
    """A digit string (``3,5`` and ``3.5`` alike) or a Swedish number word as a number; None if neither."""
    word = token.strip().lower()
    if re.fullmatch(_DIGITS, word):
        value = float(word.replace(",", "."))
        return int(value) if value.is_integer() and not re.search(r"[.,]", word) else value
    if word in _SMALL:
        return _SMALL[word]
    for tens, tens_value in _TENS.items():
        if word.startswith(tens):
            rest = word[len(tens) :]
            if not rest:
                return tens_value
            if rest in _SMALL and rest in _ONES:
                return tens_value + _SMALL[rest]
    if word in ("en halv", "ett halvt", "halv"):
        return 0.5
    return None


def _unit_seconds(unit: str) -> int:
    for pattern, seconds in _UNIT_SECONDS:
        if re.fullmatch(pattern, unit, re.IGNORECASE):
            return seconds
    raise ValueError(unit)


def _duration_spans(text: str) -> list[tuple[int, int, int]]:
    """Simple durations as (start, end, seconds), before merging."""
    spans: list[tuple[int, int, int]] = []
    for match in DURATION_RE.finditer(text):
        qty = parse_number(match.group("qty"))
        if qty is None:
            continue
        spans.append((match.start(), match.end(), round(qty * _unit_seconds(match.group("unit")))))
    for match in SPECIAL_DURATION_RE.finditer(text):
        key = match.group("special").lower().split()[-1]
        if not any(s <= match.start() < e for s, e, _ in spans):
            spans.append((match.start(), match.end(), _SPECIAL_SECONDS[key]))
    return sorted(spans)


def _merge_durations(text: str, spans: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Join "1 timme och 15 minuter" / "1 timme, 15 minuter" into one duration."""
    merged: list[tuple[int, int, int]] = []
    for start, end, seconds in spans:
        if merged:
            p_start, p_end, p_seconds = merged[-1]
            gap = text[p_end:start]
            if _JOIN_RE.fullmatch(gap):
                merged[-1] = (p_start, end, p_seconds + seconds)
                continue
        merged.append((start, end, seconds))
    return merged


def _entity(kind: str, value: Any, text: str, start: int, end: int) -> Entity:
    return {"type": kind, "value": value, "text": text[start:end], "start": start, "end": end}


def _free(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return all(end <= s or start >= e for s, e in taken)


def extract_entities(text: str) -> list[Entity]:
    """E-mail addresses, clock times (``14:30``), durations (seconds) and numbers, ordered by offset."""
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def claim(kind: str, value: Any, start: int, end: int) -> None:
        if _free(taken, start, end):
            taken.append((start, end))
            found.append(_entity(kind, value, text, start, end))

    for match in EMAIL_RE.finditer(text):
        claim("email", match.group(0).lower(), match.start(), match.end())
    for match in TIME_RE.finditer(text):
        claim("time", f"{int(match.group('h')):02d}:{match.group('m')}", match.start(), match.end())
    for start, end, seconds in _merge_durations(text, _duration_spans(text)):
        claim("duration", seconds, start, end)
    for match in NUMBER_RE.finditer(text):
        value = parse_number(match.group(0))
        if value is not None:
            claim("number", value, match.start(), match.end())
    return sorted(found, key=lambda e: int(e["start"]))
