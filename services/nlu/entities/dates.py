"""Dates as ISO "YYYY-MM-DD", relative to ``now``: "idag", "imorgon", "på fredag", "nästa vecka", "den 3 mars".

Conventions (the contract the test data is annotated with): a bare or "på" weekday is the next such day strictly
after today (a week ahead if it is today); "nästa fredag" is the Friday of next week; "i fredags" and "förra
fredagen" are the latest Friday before today; "nästa vecka" is next week's Monday; a day and month without a
year is this year's, or next year's once it has passed. The span keeps a leading "på", "den", "nästa", "förra"
and "om" ("på fredag", "om tre dagar").

Weekday abbreviations ("mån", "tis", "ons", "tor"/"tors", "fre", "lör", "sön", also "fre." and "lor" typed
without å/ä/ö) follow the same rules, but only with a cue, because several are ordinary words too; see
:func:`_abbreviation`. A weekday followed by an explicit date ("fredag den 6 mars", "fre 6/3") is one date whose
value is the explicit date's; with a day but no month ("fredag den 16") the weekday picks the month (the next
Friday the 16th within a year, else the next 16th).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Final, NamedTuple

from nlu.entities.numbers import QUANTITY, quantity_value
from nlu.entities.spans import Span, fold

WEEKDAYS: Final[dict[str, int]] = {
    "mandag": 0, "tisdag": 1, "onsdag": 2, "torsdag": 3, "fredag": 4, "lordag": 5, "sondag": 6,
}  # fmt: skip
MONTHS: Final[dict[str, int]] = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "mars": 3, "mar": 3, "april": 4, "apr": 4, "maj": 5,
    "juni": 6, "jun": 6, "juli": 7, "jul": 7, "augusti": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "oktober": 10, "okt": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_ORDINALS: Final[dict[str, int]] = {
    "forsta": 1, "andra": 2, "tredje": 3, "fjarde": 4, "femte": 5, "sjatte": 6, "sjunde": 7, "attonde": 8,
    "nionde": 9, "tionde": 10, "elfte": 11, "tolfte": 12, "trettonde": 13, "fjortonde": 14, "femtonde": 15,
    "sextonde": 16, "sjuttonde": 17, "artonde": 18, "nittonde": 19, "tjugonde": 20, "tjugoforsta": 21,
    "tjugoandra": 22, "tjugotredje": 23, "tjugofjarde": 24, "tjugofemte": 25, "tjugosjatte": 26,
    "tjugosjunde": 27, "tjugoattonde": 28, "tjugonionde": 29, "trettionde": 30, "trettioforsta": 31,
}  # fmt: skip
_RELATIVE_DAYS: Final[dict[str, int]] = {
    "idag": 0, "i dag": 0, "ikvall": 0, "i kvall": 0, "i natt": 0, "inatt": 0,
    "imorgon": 1, "i morgon": 1, "imorn": 1, "i morn": 1, "imorrn": 1, "i morrn": 1, "imorron": 1,
    "imrgn": 1, "i overmorgon": 2, "iovermorgon": 2, "overmorgon": 2, "igar": -1, "i gar": -1,
    "i forrgar": -2, "iforrgar": -2, "forrgar": -2,
}  # fmt: skip


def _alt(words: Iterable[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_DAY: Final = rf"(?P<day>[12]\d|3[01]|0?[1-9])(?::?e|:a)?|(?P<ordinal>{_alt(_ORDINALS)})"
_RELATIVE_RE: Final = re.compile(rf"(?<!\w)(?P<word>{_alt(_RELATIVE_DAYS)})(?!\w)")
_ON: Final = r"(?:pa\s+)?"  # "på fredag": the annotated span includes "på"
_WEEKDAY_RE: Final = re.compile(
    rf"(?<!\w){_ON}(?:(?P<next>nasta|nastkommande)\s+|(?P<last>forra\s+|i\s+(?=\w+s(?!\w))))?"
    rf"(?P<weekday>{_alt(WEEKDAYS)})(?:en|s)?(?!\w)"
)
_WEEK_RE: Final = re.compile(r"(?<!\w)(?P<which>nasta|forra)\s+(?P<unit>veckan?|manad|manaden|ar|aret)(?!\w)")
_WEEKEND_RE: Final = re.compile(r"(?<!\w)(?:i\s+helgen|till\s+helgen)(?!\w)")
_IN_RE: Final = re.compile(rf"(?<!\w)om\s+(?P<qty>{QUANTITY}|en|ett)\s+(?P<unit>dagar|dag|veckor|vecka)(?!\w)")
_DAY_MONTH_RE: Final = re.compile(
    rf"(?<!\w){_ON}(?:den\s+)?(?:{_DAY})\s+(?P<month>{_alt(MONTHS)})\.?(?:\s+(?P<year>20\d\d))?(?!\w)"
)
_NUMERIC_RE: Final = re.compile(
    rf"(?<![\w/.-]){_ON}(?:den\s+)?(?P<day>[12]\d|3[01]|0?[1-9])/(?P<month>1[0-2]|0?[1-9])(?![\w/])"
)
_ISO_RE: Final = re.compile(r"(?<![\w-])(?P<year>20\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)(?![\w-])")


class _Abbreviation(NamedTuple):
    """How much context a weekday abbreviation needs before it counts as a date."""

    weekday: int
    cues: frozenset[str]  # a word right before it (or "pa"/"nasta" in the span) that makes it a date
    signal_alone: bool  # a time or date right after it is enough on its own ("fre kl 9")
    needs_signal: bool  # a cue is not enough: a time or date must follow too


# Cues in folded text. "på"/"nästa" join the span (as for "på fredag"); the others stay outside it.
_SPAN_CUES: Final = frozenset({"pa", "nasta", "nastkommande"})
_STRONG_CUES: Final = _SPAN_CUES | {"kommande", "denna", "senast"}
_ALL_CUES: Final = _STRONG_CUES | {"till", "tills", "innan", "fore", "efter", "fran"}
# Words before an abbreviation that rule a date out: "i mån av tid", "i den mån", "möte med Tor".
_BLOCKERS: Final = frozenset({"i", "den", "med", "at", "for", "av"})
_PLAIN: Final = (_ALL_CUES, True, False)
#: Spellings as typed (lower-cased, diacritics kept): the folded text cannot tell "mån" from the pronoun "man",
#: "sön" from the noun "son" or "ons" from "öns" (the island's). "tor" is also a name ("till Tor"), "man" needs
#: a cue and a time ("på man kl 9": "det beror på man" is Swedish), "son" needs "på" or "nästa".
_ABBREVIATIONS: Final[dict[str, _Abbreviation]] = {
    "mån": _Abbreviation(0, *_PLAIN), "man": _Abbreviation(0, _SPAN_CUES, False, True),
    "tis": _Abbreviation(1, *_PLAIN), "ons": _Abbreviation(2, *_PLAIN), "tors": _Abbreviation(3, *_PLAIN),
    "tor": _Abbreviation(3, _STRONG_CUES, False, False), "fre": _Abbreviation(4, *_PLAIN),
    "lör": _Abbreviation(5, *_PLAIN), "lor": _Abbreviation(5, *_PLAIN), "sön": _Abbreviation(6, *_PLAIN),
    "son": _Abbreviation(6, _SPAN_CUES, False, False),
}  # fmt: skip
_ABBREVIATION_RE: Final = re.compile(
    rf"(?<![\w\-–])(?:(?P<on>pa)\s+)?(?:(?P<next>nasta|nastkommande)\s+)?"
    rf"(?P<abbr>{_alt({fold(spelling) for spelling in _ABBREVIATIONS})})(?:\.(?![\w\-–])|(?![\w\-–]))"
)
_PREVIOUS_WORD_RE: Final = re.compile(r"(\w+)\s+$")
# A time or an explicit date right after a weekday: "fre kl 9", "mån 14.30", "tis em", "ons den 21", "tors 22/1".
_SIGNAL_RE: Final = re.compile(
    rf",?\s+(?:kl(?:ockan)?(?!\w)|\d{{1,2}}[:.]\d\d(?!\d)|halv\s+\w|kvart\s+(?:i|over)\s|[fe]\.?m\.?(?!\w)"
    rf"|(?:pa\s+)?(?:morgon|formiddag|eftermiddag|kvall|lunch)(?:en)?(?!\w)|den\s+(?:\d|{_alt(_ORDINALS)})"
    rf"|\d{{1,2}}(?::?e|:a)?(?:/\d|\s+(?:{_alt(MONTHS)})(?!\w)))"
)
# "fredag den 16": a day of the month with no month after a weekday.
_DAY_ONLY_RE: Final = re.compile(rf",?\s+den\s+(?:{_DAY})(?![\w/]|\s+(?:{_alt(MONTHS)})(?!\w))")
_APPOSITION_RE: Final = re.compile(r",?\s+")


def _next_weekday(today: date, weekday: int) -> date:
    """The next ``weekday`` strictly after today."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _monday(today: date, weeks: int) -> date:
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)


def _day_month(today: date, day: int, month: int, year: int | None) -> date | None:
    """This year's date, or next year's when it has passed; None for 31 February."""
    try:
        found = date(year or today.year, month, day)
        if year is None and found < today:
            found = date(today.year + 1, month, day)
    except ValueError:
        return None
    return found


def _weekday_date(today: date, weekday: int, *, after_next: bool = False, last: bool = False) -> date:
    """The date of ``weekday``: the next one, next week's ("nästa fredag") or the latest before today."""
    if after_next:
        return _monday(today, 1) + timedelta(days=weekday)
    if last:  # "i fredags", "förra fredagen": the latest Friday before today
        return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
    return _next_weekday(today, weekday)


def _full_weekday_date(today: date, match: re.Match[str]) -> date:
    weekday = WEEKDAYS[match.group("weekday")]
    return _weekday_date(today, weekday, after_next=bool(match.group("next")), last=bool(match.group("last")))


def _abbreviation(folded: str, text: str, match: re.Match[str]) -> int | None:
    """The weekday of an abbreviation match, or None when its context does not make it a date.

    The cue is "på"/"nästa" inside the span or the word right before it; a blocker there ("i mån av tid", "med
    Tor") rules a date out, and so does a spelling that is no abbreviation once diacritics count ("på öns").
    """
    abbreviation = _ABBREVIATIONS.get(text[match.start("abbr") : match.end("abbr")].lower())
    if abbreviation is None:
        return None
    previous = _PREVIOUS_WORD_RE.search(folded[max(0, match.start() - 40) : match.start()])
    cue = match.group("next") or match.group("on") or (previous.group(1) if previous else "")
    signal = _SIGNAL_RE.match(folded, match.end()) is not None
    if cue in abbreviation.cues and (signal or not abbreviation.needs_signal):
        return abbreviation.weekday
    if abbreviation.signal_alone and signal and cue not in _BLOCKERS:
        return abbreviation.weekday
    return None


def _day_of_month(today: date, day: int, weekday: int) -> date | None:
    """The next date (today included) on ``day`` of a month, preferring one that falls on ``weekday``.

    "fredag den 16" said on Wednesday 14 January is the 16th; "fredag den 3:e" is 3 April, the next Friday the
    3rd, rather than Tuesday 3 February. Without such a Friday within a year, the next 3rd it is.
    """
    candidates: list[date] = []
    for months_ahead in range(13):
        month_index = today.year * 12 + today.month - 1 + months_ahead
        try:
            found = date(month_index // 12, month_index % 12 + 1, day)
        except ValueError:
            continue
        if found >= today:
            candidates.append(found)
    matching = [d for d in candidates if d.weekday() == weekday]
    return next(iter(matching or candidates), None)


def _with_explicit_dates(
    folded: str,
    today: date,
    weekdays: list[tuple[re.Match[str], int]],
    explicit: list[tuple[re.Match[str], date | None]],
) -> list[tuple[int, int, date | None]]:
    """Weekdays joined with the explicit date right after them ("fredag den 6 mars", "fredag den 16")."""
    joined: list[tuple[int, int, date | None]] = []
    starts = {m.start(): (m.end(), d) for m, d in explicit}
    for weekday, number in weekdays:
        gap = _APPOSITION_RE.match(folded, weekday.end())
        if gap is not None and gap.end() in starts:
            end, value = starts[gap.end()]
            joined.append((weekday.start(), end, value))
            continue
        day = _DAY_ONLY_RE.match(folded, weekday.end())
        if day is not None:
            day_number = int(day.group("day")) if day.group("day") else _ORDINALS[day.group("ordinal")]
            joined.append((weekday.start(), day.end(), _day_of_month(today, day_number, number)))
    return joined


def _period_date(today: date, which: str, unit: str) -> date:
    step = 1 if which == "nasta" else -1
    if unit.startswith("veck"):
        return _monday(today, step)
    if unit.startswith("manad"):
        month_index = today.year * 12 + today.month - 1 + step
        return date(month_index // 12, month_index % 12 + 1, 1)
    return date(today.year + step, 1, 1)


def _weekend(today: date) -> date:
    return today if today.weekday() == 6 else today + timedelta(days=5 - today.weekday())


def find_dates(folded: str, today: date, text: str | None = None) -> list[Span]:
    """Dates in ``folded`` resolved against ``today``; ``text`` (the original) tells "mån" from "man"."""
    found: list[tuple[re.Match[str], date | None]] = []
    found += [(m, today + timedelta(days=_RELATIVE_DAYS[m.group("word")])) for m in _RELATIVE_RE.finditer(folded)]
    weekdays = [(m, WEEKDAYS[m.group("weekday")]) for m in _WEEKDAY_RE.finditer(folded)]
    found += [(m, _full_weekday_date(today, m)) for m, _ in weekdays]
    for m in _ABBREVIATION_RE.finditer(folded):
        weekday = _abbreviation(folded, text or folded, m)
        if weekday is not None:
            weekdays.append((m, weekday))
            found.append((m, _weekday_date(today, weekday, after_next=bool(m.group("next")))))
    found += [(m, _period_date(today, m.group("which"), m.group("unit"))) for m in _WEEK_RE.finditer(folded)]
    found += [(m, _weekend(today)) for m in _WEEKEND_RE.finditer(folded)]
    for m in _IN_RE.finditer(folded):
        qty = m.group("qty")
        count = 1 if qty in ("en", "ett") else quantity_value(qty)
        if count is not None and float(count).is_integer():
            days = int(count) * (7 if m.group("unit").startswith("veck") else 1)
            found.append((m, today + timedelta(days=days)))
    explicit_start = len(found)
    for m in _DAY_MONTH_RE.finditer(folded):
        day = int(m.group("day")) if m.group("day") else _ORDINALS[m.group("ordinal")]
        year = int(m.group("year")) if m.group("year") else None
        found.append((m, _day_month(today, day, MONTHS[m.group("month")], year)))
    for m in _NUMERIC_RE.finditer(folded):
        found.append((m, _day_month(today, int(m.group("day")), int(m.group("month")), None)))
    for m in _ISO_RE.finditer(folded):
        found.append((m, _day_month(today, int(m.group("day")), int(m.group("month")), int(m.group("year")))))
    spans = [(m.start(), m.end(), d) for m, d in found]
    spans += _with_explicit_dates(folded, today, weekdays, found[explicit_start:])
    return [Span(start, end, "date", d.isoformat()) for start, end, d in spans if d is not None]
