"""Clock times as "HH:MM": "kl 14", "14.30", "klockan tre", "halv tre", "kvart i fem", "tio i åtta".

Swedish names the coming hour: "halv tre" is 2:30 and "kvart i fem" 4:45. A spoken hour 1–12 says nothing
about morning or afternoon, so it is resolved the way an assistant booking things should guess: hours 1–7
are afternoon (13–19), 8–12 stay, unless a marker ("på morgonen", "fm", "på kvällen", "em") says otherwise. The
rule applies to the named hour, so "halv ett" is 12:30 and "tio i åtta" 07:50. An hour written 13–23, 0 or
with a leading zero ("08:00", "kl 09") is 24-hour already and stays. Number words may be typed apart ("klockan
tjugo tre", "tjugo fem över sex"); "kvart"/"halv" only go with hours up to twelve, as Swedish speaks them.
"""

from __future__ import annotations

import re
from typing import Final

from nlu.entities.numbers import UNITS, word_value
from nlu.entities.spans import Span

# 20–23 may be typed apart ("klockan tjugo tre"), like any ten and unit (see :mod:`nlu.entities.numbers`).
_HOUR_WORDS: Final = r"tjugo ?(?:ett|en|tva|tre)|" + "|".join(
    sorted([w for w, v in UNITS.items() if 1 <= v <= 19] + ["tjugo"], key=len, reverse=True)
)
_MINUTE_WORDS: Final = r"tjugo(?: ?(?:fem|fyra|tre|tva|ett|en))?|nitton|arton|sjutton|sexton|femton|fjorton" \
    r"|tretton|tolv|elva|tio|nio|atta|sju|sex|fem|fyra|tre|tva|en|ett"  # fmt: skip
_HOUR: Final = rf"(?:[01]?\d|2[0-4]|{_HOUR_WORDS})"
_KL: Final = r"(?:klockan|kl\.?)"
_MARKER: Final = (
    r"(?:\s*(?:(?:pa|pa\s+den|i|under)\s+)?(?P<marker>morgonen|formiddagen|fm|f\.m\.|natten|kvallen|eftermiddagen"
    r"|em|e\.m\.)(?![\w.]))?"
)
_NOT_A_QUANTITY: Final = r"(?!\s*(?:kr\b|kronor|sek\b|%|procent|kg|km|mil\b|liter|grader|meter|:-))"

_DIGITAL_RE: Final = re.compile(
    rf"(?:{_KL}\s*)?(?<![\w.,:])(?P<h>[01]?\d|2[0-4])[:.](?P<m>[0-5]\d)(?!\d|[.,]\d){_NOT_A_QUANTITY}{_MARKER}"
)
_KL_FOUR_DIGITS_RE: Final = re.compile(rf"(?<!\w){_KL}\s*(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)(?!\w){_MARKER}")
_RELATIVE_RE: Final = re.compile(
    rf"(?<!\w)(?:(?P<kl>{_KL})\s*)?(?:(?P<n>kvart|{_MINUTE_WORDS})\s+(?P<dir>i|over)\s+)?(?P<half>halv\s+)?"
    rf"(?P<h>{_HOUR})(?!\w|[:.]\d){_NOT_A_QUANTITY}{_MARKER}"
)
_TIDEN_RE: Final = re.compile(rf"(?<!\w)(?P<h>{_HOUR})-?tiden(?!\w){_MARKER}")
_MIDNIGHT_RE: Final = re.compile(r"(?<!\w)(?:vid\s+)?midnatt(?!\w)")
_AM: Final = frozenset({"morgonen", "formiddagen", "fm", "f.m.", "natten"})
# A marker before the time ("ikväll kl 8", "i morse vid halv sju") also decides.
_PRE_PM_RE: Final = re.compile(r"(?:i\s*kvall|i\s*eftermiddag|i\s*afton)\W+(?:\w+\W+){0,2}$")
_PRE_AM_RE: Final = re.compile(r"(?:i\s*morse|i\s*natt|bitti)\W+(?:\w+\W+){0,2}$")


def _hour_number(token: str) -> tuple[int, bool] | None:
    """(hour, written 24-hour) for a digit or word hour."""
    if token.isdigit():
        hour = int(token)
        explicit = hour == 0 or hour >= 13 or (len(token) == 2 and token.startswith("0"))
        return (0 if hour == 24 else hour), explicit
    value = word_value(token)
    if value is None or not 1 <= value <= 24:
        return None
    return (0 if value == 24 else value), value >= 13


def resolve_hour(hour: int, explicit: bool, marker: str | None) -> int:
    """The 24-hour value of a named hour: explicit hours stay, markers decide, else business hours."""
    if explicit:
        return hour
    if marker in _AM:
        return 0 if hour == 12 else hour
    if marker is not None:
        return hour if hour == 12 else hour + 12
    return hour + 12 if 1 <= hour <= 7 else hour


def _marker(folded: str, match: re.Match[str]) -> str | None:
    if match.group("marker"):
        return match.group("marker")
    before = folded[max(0, match.start() - 40) : match.start()]
    if _PRE_PM_RE.search(before):
        return "kvallen"
    if _PRE_AM_RE.search(before):
        return "morgonen"
    return None


def _span(match: re.Match[str], hour: int, minute: int) -> Span:
    return Span(match.start(), match.end(), "time", f"{hour % 24:02d}:{minute:02d}")


def _relative(folded: str, match: re.Match[str]) -> Span | None:
    """ "halv tre", "kvart i fem", "tio över sex", "fem i halv åtta", "klockan tre"."""
    n, half = match.group("n"), match.group("half")
    if not (n or half or match.group("kl")):
        return None  # a bare "tre" is a number
    parsed = _hour_number(match.group("h"))
    if parsed is None or parsed[0] > 12 and (n or half):
        return None
    hour = resolve_hour(*parsed, _marker(folded, match))
    minutes = hour * 60 - (30 if half else 0)
    if n:
        offset = 15 if n == "kvart" else (word_value(n) or 0)
        if not 1 <= offset <= 29:
            return None
        minutes += offset if match.group("dir") == "over" else -offset
    return _span(match, (minutes // 60) % 24, minutes % 60)


def find_times(folded: str) -> list[Span]:
    """Clock times in ``folded``; overlapping candidates are left to the caller's span resolution."""
    spans: list[Span] = []
    for regex in (_DIGITAL_RE, _KL_FOUR_DIGITS_RE):
        for match in regex.finditer(folded):
            parsed = _hour_number(match.group("h"))
            if parsed is not None:
                hour = resolve_hour(*parsed, _marker(folded, match))
                spans.append(_span(match, hour, int(match.group("m"))))
    for match in _RELATIVE_RE.finditer(folded):
        span = _relative(folded, match)
        if span is not None:
            spans.append(span)
    for match in _TIDEN_RE.finditer(folded):
        parsed = _hour_number(match.group("h"))
        if parsed is not None:
            spans.append(_span(match, resolve_hour(*parsed, _marker(folded, match)), 0))
    spans.extend(_span(m, 0, 0) for m in _MIDNIGHT_RE.finditer(folded))
    return spans
