"""Swedish entity extraction with character offsets: the one public entry point is :func:`extract_entities`.

Each entity is ``{"type", "value", "text", "start", "end"}`` with ``text == original[start:end]``; an
``expression`` also carries ``"expression"``, its normalised ASCII formula. Types and values:

- ``number``: int or float ("15", "1,5", "2 500", "tjugotre", "tjugo tre", "två tusen fem hundra", "en halv",
  "ett par"; never a lone "en"/"ett").
- ``duration``: seconds ("fem minuter" 300, "en kvart" 900, "1 timme och 15 minuter" 4500).
- ``time``: "HH:MM" ("kl 14", "halv tre" 14:30, "tio i åtta" 07:50; see :mod:`nlu.entities.clock`).
- ``date``: ISO date relative to ``now`` ("imorgon", "på fredag", "på fre", "i lördags", "fredag den 6 mars",
  "nästa vecka"; see :mod:`nlu.entities.dates`).
- ``email``: lower-cased address. ``phone``: E.164 ("070-123 45 67" → "+46701234567").
- ``person``: the name capitalised ("med anna" → "Anna"). ``place``: the gazetteer's name ("gbg" → "Göteborg").
- ``expression``: the result of arithmetic in words or symbols ("150 delat med 6" → 25, "150/6").

Every extractor proposes candidate spans; overlaps are resolved once, here: the longer span wins, a tie goes to
the more specific type (email > phone > expression > duration > time > date > number), and a person or place
only fills characters nobody else claimed. Between a person and a place the same rule holds: "med Erik Lund" is
one person (the longer span) and no place "Lund", and "med Nora" is a person (a tie). Whether a town after
"till"/"för" is proposed as a person at all is decided by its clause, in :mod:`nlu.entities.people`: "åk till
Nora" and "vädret för Sofia" are places (see :mod:`nlu.entities.context`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from nlu.entities.arithmetic import find_expressions
from nlu.entities.clock import find_times
from nlu.entities.contacts import find_emails, find_phones
from nlu.entities.dates import find_dates
from nlu.entities.durations import find_durations
from nlu.entities.numbers import find_numbers
from nlu.entities.people import find_people
from nlu.entities.places import find_places
from nlu.entities.spans import Span, fold

__all__ = ["Entity", "LOCAL_TIMEZONE", "extract_entities"]

Entity = dict[str, Any]
LOCAL_TIMEZONE: Final = ZoneInfo("Europe/Stockholm")
_PRIORITY: Final = {
    "email": 0, "phone": 1, "expression": 2, "duration": 3, "time": 4, "date": 5, "number": 6, "person": 7,
    "place": 8,
}  # fmt: skip
_NAMES: Final = frozenset({"person", "place"})


def _resolve(candidates: list[Span]) -> list[Span]:
    """Non-overlapping spans: names last, then longest first, then by type priority, then leftmost."""
    ranked = sorted(candidates, key=lambda s: (s.type in _NAMES, s.start - s.end, _PRIORITY[s.type], s.start))
    chosen: list[Span] = []
    for span in ranked:
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def _as_entity(text: str, span: Span) -> Entity:
    entity: Entity = {"type": span.type, "value": span.value, "text": text[span.start : span.end]}
    entity.update(start=span.start, end=span.end)
    if span.extra:
        entity.update(span.extra)
    return entity


def extract_entities(text: str, now: datetime | None = None) -> list[Entity]:
    """Entities in ``text`` ordered by offset; relative dates resolve against ``now`` (default: now, Stockholm)."""
    if now is None:
        now = datetime.now(LOCAL_TIMEZONE)
    today = now.astimezone(LOCAL_TIMEZONE).date() if now.tzinfo else now.date()
    folded = fold(text)
    candidates = [
        *find_emails(text),
        *find_phones(text),
        *find_expressions(folded),
        *find_durations(folded),
        *find_times(folded),
        *find_dates(folded, today, text),
        *find_numbers(folded),
        *find_people(text),
        *find_places(folded),
    ]
    return [_as_entity(text, span) for span in _resolve(candidates)]
