"""Dates as ISO "YYYY-MM-DD", relative to ``now``: "idag", "imorgon", "på fredag", "nästa vecka", "den 3 mars".

Conventions (the contract the test data is annotated with): a bare or "på" weekday is the next such day strictly
after today (a week ahead if it is today); "nästa fredag" is the Friday of next week; "nästa vecka" is next
week's Monday; a day and month without a year is this year's, or next year's once it has passed. The span
keeps a leading "på", "den", "nästa" and "om" ("på fredag", "om tre dagar").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Final

from nlu.entities.numbers import QUANTITY, quantity_value
from nlu.entities.spans import Span

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
    rf"(?<!\w){_ON}(?:(?P<next>nasta|nastkommande)\s+|(?P<last>i\s+)(?=\w+s(?!\w)))?"
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


def _weekday_date(today: date, match: re.Match[str]) -> date:
    weekday = WEEKDAYS[match.group("weekday")]
    if match.group("next"):
        return _monday(today, 1) + timedelta(days=weekday)
    if match.group("last"):  # "i fredags": the latest Friday before today
        return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
    return _next_weekday(today, weekday)


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


def find_dates(folded: str, today: date) -> list[Span]:
    """Dates in ``folded`` resolved against ``today``."""
    found: list[tuple[re.Match[str], date | None]] = []
    found += [(m, today + timedelta(days=_RELATIVE_DAYS[m.group("word")])) for m in _RELATIVE_RE.finditer(folded)]
    found += [(m, _weekday_date(today, m)) for m in _WEEKDAY_RE.finditer(folded)]
    found += [(m, _period_date(today, m.group("which"), m.group("unit"))) for m in _WEEK_RE.finditer(folded)]
    found += [(m, _weekend(today)) for m in _WEEKEND_RE.finditer(folded)]
    for m in _IN_RE.finditer(folded):
        qty = m.group("qty")
        count = 1 if qty in ("en", "ett") else quantity_value(qty)
        if count is not None and float(count).is_integer():
            days = int(count) * (7 if m.group("unit").startswith("veck") else 1)
            found.append((m, today + timedelta(days=days)))
    for m in _DAY_MONTH_RE.finditer(folded):
        day = int(m.group("day")) if m.group("day") else _ORDINALS[m.group("ordinal")]
        year = int(m.group("year")) if m.group("year") else None
        found.append((m, _day_month(today, day, MONTHS[m.group("month")], year)))
    for m in _NUMERIC_RE.finditer(folded):
        found.append((m, _day_month(today, int(m.group("day")), int(m.group("month")), None)))
    for m in _ISO_RE.finditer(folded):
        found.append((m, _day_month(today, int(m.group("day")), int(m.group("month")), int(m.group("year")))))
    return [Span(m.start(), m.end(), "date", d.isoformat()) for m, d in found if d is not None]
