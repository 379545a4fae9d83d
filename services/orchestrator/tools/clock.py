"""The clock tools: ``time.now`` (the time here or in a named place) and ``date.today`` (a date, its weekday and
ISO week).

Places come from ``places_tz.tsv``, an own list of Swedish names for world cities, countries and holiday regions
with IANA zones. The orchestrator may not import the NLU, so the lookup is its own: a ``place`` entity first,
then the folded words of the message ("klockan i New York", "tid på Island", "Tokyos tid"). Every world place in
the NLU's gazetteer is in the list (a unit test checks it), so a ``place`` entity the list lacks is a Swedish town,
on Swedish time. A capitalised name after "i"/"på" that nobody knows is reported as unknown, not guessed.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, TypeVar
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, Field, ValidationError

from orchestrator.tools.base import STOCKHOLM, ToolArgumentsError, ToolContext, ToolResult
from orchestrator.tools.swedish import MONTHS_SV, WEEKDAYS_SV

PLACES_PATH: Final = Path(__file__).with_name("places_tz.tsv")
_M = TypeVar("_M", bound=BaseModel)
WEEKDAYS: Final = WEEKDAYS_SV
MONTHS: Final = MONTHS_SV
_PREPOSITIONS: Final = frozenset({"i", "pa", "in", "for", "fran"})
_WORD_RE: Final = re.compile(r"\w+")
_FOLD: Final = str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "đ": "d", "ł": "l", "ı": "i"})
# "i Ouagadougou": a capitalised name after a place preposition, for a place the list does not know.
_NAMED_RE: Final = re.compile(r"(?:^|\s)(?:[iI]|[pP]å|[iI]n)\s+([A-ZÅÄÖ][\w'-]*(?:[ -][A-ZÅÄÖ][\w'-]*){0,3})")
_RELATIVE_DAYS: Final = {0: "Idag är det", 1: "Imorgon är det", 2: "I övermorgon är det", -1: "Igår var det",
                         -2: "I förrgår var det"}  # fmt: skip


@dataclass(frozen=True)
class ZonePlace:
    """A place and its time zone; ``note`` says which part of the place the zone covers ("östkusten")."""

    name: str
    zone: str
    kind: str = "stad"
    note: str = ""
    on: bool = False  # Swedish says "på Island", not "i Island"
    needs_preposition: bool = False

    @property
    def label(self) -> str:
        """The place with its preposition: "i Tokyo", "på Island"."""
        return f"{'på' if self.on else 'i'} {self.name}"


def fold(text: str) -> str:
    """Lower-case ``text`` without diacritics ("São Paulo" → "sao paulo", "Tromsø" → "tromso")."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _key(name: str) -> str:
    return " ".join(_WORD_RE.findall(fold(name)))


@functools.cache
def places() -> dict[str, ZonePlace]:
    """Folded name or alias → place, read once from :data:`PLACES_PATH` (a canonical name beats an alias)."""
    table: dict[str, ZonePlace] = {}
    aliases: list[tuple[str, ZonePlace]] = []
    for line in PLACES_PATH.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("name\t"):
            continue
        name, zone, kind, note, alias_list, flag_list = line.split("\t")
        flags = set(flag_list.split(","))
        place = ZonePlace(name, zone, kind, note, on="pa" in flags, needs_preposition="prep" in flags)
        table.setdefault(_key(name), place)
        aliases.extend((_key(alias), place) for alias in alias_list.split(",") if alias)
    for key, place in aliases:
        table.setdefault(key, place)
    return table


@functools.cache
def _longest_name() -> int:
    return max(key.count(" ") + 1 for key in places())


@functools.cache
def _zone_names() -> dict[str, str]:
    return {zone.lower(): zone for zone in available_timezones()}


def find_place(query: str) -> ZonePlace | None:
    """The place ``query`` names: a listed name or alias, an IANA zone ("Asia/Tokyo"), or "Town, Country" where
    the country has one zone ("Nagoya, Japan"). None when nothing fits."""
    key = _key(query)
    table = places()
    if key in table:
        return table[key]
    zone = _zone_names().get(query.strip().lower())
    if zone is not None:
        return ZonePlace(zone.rsplit("/", 1)[-1].replace("_", " "), zone, "zon")
    if "," in query:
        first, *_, last = (part.strip() for part in query.split(","))
        town, country = find_place(first), table.get(_key(last))
        if town is not None:
            return town
        if country is not None and country.kind == "land" and not country.note and first:
            return ZonePlace(first, country.zone)
    return None


def place_in_text(text: str) -> ZonePlace | None:
    """The first listed place in ``text``, preferring one after a preposition ("klockan i New York")."""
    tokens = _WORD_RE.findall(fold(text))
    table = places()
    loose: ZonePlace | None = None
    for i in range(len(tokens)):
        for n in range(min(_longest_name(), len(tokens) - i), 0, -1):
            key = " ".join(tokens[i : i + n])
            place = table.get(key)
            if place is None and key.endswith("s"):  # genitive: "Tokyos tid"
                place = table.get(key[:-1])
                place = None if place is None or place.needs_preposition else place
            if place is None:
                continue
            if i > 0 and tokens[i - 1] in _PREPOSITIONS:
                return place
            if loose is None and not place.needs_preposition:
                loose = place
            break
    return loose


def local_now(ctx: ToolContext) -> dt.datetime:
    """The request's time in Stockholm (a naive ``now`` is taken to be Stockholm time)."""
    now = ctx.now if ctx.now.tzinfo is not None else ctx.now.replace(tzinfo=STOCKHOLM)
    return now.astimezone(STOCKHOLM)


def _offset_phrase(minutes: int) -> str:
    """ "8 timmar före svensk tid", "4 timmar och 30 minuter före svensk tid", "samma tid som i Sverige"."""
    if minutes == 0:
        return "samma tid som i Sverige"
    hours, rest = divmod(abs(minutes), 60)
    parts = [f"{hours} {'timme' if hours == 1 else 'timmar'}"] if hours else []
    parts += [f"{rest} {'minut' if rest == 1 else 'minuter'}"] if rest else []
    return f"{' och '.join(parts)} {'före' if minutes > 0 else 'efter'} svensk tid"


def _coerce(model: type[_M], args: BaseModel) -> _M:
    if isinstance(args, model):
        return args
    try:
        return model.model_validate(args.model_dump())
    except ValidationError as exc:
        raise ToolArgumentsError(f"invalid arguments for {model.__name__}: {exc}") from exc


class TimeNowArgs(BaseModel):
    """Arguments of ``time.now``."""

    place: str | None = Field(
        default=None,
        description="City, country or IANA time zone to tell the time in, e.g. 'Tokyo', 'Japan', 'New York', "
        "'Asia/Tokyo' or 'Nagoya, Japan'. Leave out for Swedish time (Europe/Stockholm).",
    )


class TimeNowTool:
    """``time.now``: the current time in Sweden, or in a named city or country with its offset from Sweden."""

    name: ClassVar[str] = "time.now"
    description: ClassVar[str] = (
        "Current local time, in Sweden by default or in a named city or country (Swedish or English name)."
    )
    Args: ClassVar[type[BaseModel]] = TimeNowArgs
    timeout_s: ClassVar[float] = 0.2

    def args_from_context(self, ctx: ToolContext) -> TimeNowArgs:
        """The place from a ``place`` entity or the words of the message; none means Swedish time."""
        named = [str(v) for v in ctx.entity_values("place") if v]
        for value in named:
            if find_place(value) is not None:
                return TimeNowArgs(place=value)
        found = place_in_text(ctx.text)
        if found is not None:
            return TimeNowArgs(place=found.name)
        if named:  # the NLU knows it, the list does not: a Swedish town
            return TimeNowArgs(place=None)
        unknown = _NAMED_RE.search(ctx.text)
        return TimeNowArgs(place=unknown.group(1) if unknown else None)

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        """Tell the time; an unknown place is a failure that still gives the Swedish time."""
        checked = _coerce(TimeNowArgs, args)
        here = local_now(ctx)
        clock = f"{here:%H:%M}"
        query = (checked.place or "").strip()
        place = find_place(query) if query else None
        if query and place is None:
            answer = f"Jag vet inte vilken tidszon {query} ligger i. I Sverige är klockan {clock}."
            failed = {"place": query, "time": clock, "zone": "Europe/Stockholm", "iso": here.isoformat()}
            return ToolResult(self.name, checked.model_dump(), failed, answer, ok=False, error="unknown_place")
        zone = place.zone if place else "Europe/Stockholm"
        local = here.astimezone(ZoneInfo(zone))
        offset = local.utcoffset() or dt.timedelta()
        minutes = int((offset - (here.utcoffset() or dt.timedelta())).total_seconds() // 60)
        data: dict[str, Any] = {
            "time": f"{local:%H:%M}", "iso": local.isoformat(timespec="seconds"), "zone": zone,
            "place": place.name if place else None, "date": local.date().isoformat(),
            "weekday": WEEKDAYS[local.weekday()], "utc_offset": local.strftime("%z"),
            "minutes_ahead_of_sweden": minutes,
        }  # fmt: skip
        if place is None:
            answer = f"Klockan är {local:%H:%M}."
        elif zone == "Europe/Stockholm":
            answer = f"Klockan är {local:%H:%M} {place.label}."
        else:
            day = f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}"
            detail = f"{place.note}, {day}" if place.note else day
            answer = f"Klockan är {local:%H:%M} {place.label} ({detail}), {_offset_phrase(minutes)}."
        return ToolResult(self.name, checked.model_dump(), data, answer)


class DateTodayArgs(BaseModel):
    """Arguments of ``date.today``."""

    date: dt.date | None = Field(
        default=None,
        description="The day to describe as an ISO date (YYYY-MM-DD), e.g. tomorrow or next Friday resolved "
        "against today in Europe/Stockholm. Leave out for today.",
    )


def describe_day(day: dt.date, today: dt.date) -> str:
    """ "Idag är det tisdag den 3 mars 2026, vecka 10." and its relatives ("Imorgon är det …", "Om 3 dagar …")."""
    delta = (day - today).days
    if delta in _RELATIVE_DAYS:
        lead = _RELATIVE_DAYS[delta]
    else:
        lead = f"Om {delta} dagar är det" if delta > 0 else f"För {-delta} dagar sedan var det"
    week = day.isocalendar().week
    return f"{lead} {WEEKDAYS[day.weekday()]} den {day.day} {MONTHS[day.month - 1]} {day.year}, vecka {week}."


class DateTodayTool:
    """``date.today``: today's date, weekday and ISO week, or those of a nearby day the NLU resolved."""

    name: ClassVar[str] = "date.today"
    description: ClassVar[str] = "Today's date, weekday and ISO week number, or those of another given date."
    Args: ClassVar[type[BaseModel]] = DateTodayArgs
    timeout_s: ClassVar[float] = 0.1

    def args_from_context(self, ctx: ToolContext) -> DateTodayArgs:
        """The first ``date`` entity ("imorgon", "på fredag" as ISO dates); none means today."""
        for value in ctx.entity_values("date"):
            try:
                return DateTodayArgs(date=dt.date.fromisoformat(str(value)))
            except ValueError:
                continue
        return DateTodayArgs()

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        """Describe the day in Swedish, relative to today in Stockholm."""
        checked = _coerce(DateTodayArgs, args)
        today = local_now(ctx).date()
        day = checked.date or today
        iso = day.isocalendar()
        data = {
            "date": day.isoformat(), "weekday": WEEKDAYS[day.weekday()], "day": day.day,
            "month": MONTHS[day.month - 1], "year": day.year, "iso_week": iso.week, "iso_year": iso.year,
            "days_from_today": (day - today).days,
        }  # fmt: skip
        return ToolResult(self.name, checked.model_dump(mode="json"), data, describe_day(day, today))
