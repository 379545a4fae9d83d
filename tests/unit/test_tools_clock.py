"""time.now and date.today at fixed instants: zones and DST edges, Swedish answers, ISO weeks, NLU entities."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from nlu.entities import extract_entities
from orchestrator.tools.base import STOCKHOLM, Tool, ToolArgumentsError, ToolContext, ToolResult, json_schema
from orchestrator.tools.clock import (
    DateTodayArgs,
    DateTodayTool,
    TimeNowArgs,
    TimeNowTool,
    find_place,
    place_in_text,
    places,
)

UTC = dt.UTC
TUESDAY = dt.datetime(2026, 3, 3, 14, 5, tzinfo=STOCKHOLM)  # CET, UTC+1; Tokyo +9, New York -5
NLU_PLACES = Path(__file__).resolve().parents[2] / "services" / "nlu" / "entities" / "places_sv.tsv"


def context(text: str = "", now: dt.datetime = TUESDAY, entities: list[dict[str, Any]] | None = None) -> ToolContext:
    return ToolContext(tenant="t", user="u", text=text, now=now, entities=entities or [])


async def tell_time(text: str, now: dt.datetime = TUESDAY, entities: list[dict[str, Any]] | None = None) -> ToolResult:
    tool = TimeNowTool()
    ctx = context(text, now, entities)
    return await tool.run(tool.args_from_context(ctx), ctx)


async def tell_date(now: dt.datetime = TUESDAY, day: str | None = None) -> ToolResult:
    tool = DateTodayTool()
    ctx = context("vad är det för datum", now, [{"type": "date", "value": day}] if day else None)
    return await tool.run(tool.args_from_context(ctx), ctx)


def test_the_tools_fit_the_protocol_and_describe_their_arguments() -> None:
    tools: list[Tool] = [TimeNowTool(), DateTodayTool()]
    schemas = {tool.name: json_schema(tool) for tool in tools}
    assert set(schemas) == {"time.now", "date.today"}
    assert "IANA" in schemas["time.now"]["parameters"]["properties"]["place"]["description"]
    assert schemas["date.today"]["parameters"]["properties"]["date"]["anyOf"][0]["format"] == "date"
    assert all(0 < tool.timeout_s <= 0.5 for tool in tools)


# time.now


async def test_swedish_time_by_default() -> None:
    result = await tell_time("Vad är klockan?")
    assert result.ok and result.answer == "Klockan är 14:05."
    assert result.data["zone"] == "Europe/Stockholm" and result.data["place"] is None
    assert result.data["iso"] == "2026-03-03T14:05:00+01:00"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Vad är klockan i Tokyo?", "Klockan är 22:05 i Tokyo (tisdag 3 mars), 8 timmar före svensk tid."),
        ("hur mycket är klockan i new york", "Klockan är 08:05 i New York (tisdag 3 mars), 6 timmar efter svensk tid."),
        ("tid i London", "Klockan är 13:05 i London (tisdag 3 mars), 1 timme efter svensk tid."),
        ("klockan i Paris", "Klockan är 14:05 i Paris (tisdag 3 mars), samma tid som i Sverige."),
        ("vad är klockan på Island", "Klockan är 13:05 på Island (tisdag 3 mars), 1 timme efter svensk tid."),
        ("Klockan i Indien?", "Klockan är 18:35 i Indien (tisdag 3 mars), 4 timmar och 30 minuter före svensk tid."),
        ("Vad är klockan i USA?", "Klockan är 08:05 i USA (östkusten, tisdag 3 mars), 6 timmar efter svensk tid."),
        ("vad är klockan i Göteborg", "Klockan är 14:05 i Göteborg."),
        ("Tokyos tid just nu", "Klockan är 22:05 i Tokyo (tisdag 3 mars), 8 timmar före svensk tid."),
        ("klockan i beijing", "Klockan är 21:05 i Peking (tisdag 3 mars), 7 timmar före svensk tid."),
        ("vad är klockan i Kapstaden", "Klockan är 15:05 i Kapstaden (tisdag 3 mars), 1 timme före svensk tid."),
    ],
)
async def test_time_in_a_place_read_from_the_message(text: str, answer: str) -> None:
    result = await tell_time(text)
    assert result.ok and result.answer == answer


async def test_the_date_follows_the_place_across_midnight() -> None:
    result = await tell_time("klockan i Tokyo", dt.datetime(2026, 3, 3, 23, 30, tzinfo=STOCKHOLM))
    assert result.answer.startswith("Klockan är 07:30 i Tokyo (onsdag 4 mars)")
    assert result.data["date"] == "2026-03-04" and result.data["weekday"] == "onsdag"


@pytest.mark.parametrize(
    ("utc", "stockholm", "tokyo", "ahead"),
    [
        # Sweden moves to summer time at 01:00 UTC on 29 March 2026; Japan has none.
        (dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "Klockan är 01:30.", "09:30", 8 * 60),
        (dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "Klockan är 03:30.", "10:30", 7 * 60),
    ],
)
async def test_daylight_saving_edge(utc: dt.datetime, stockholm: str, tokyo: str, ahead: int) -> None:
    assert (await tell_time("vad är klockan", utc)).answer == stockholm
    result = await tell_time("vad är klockan i Tokyo", utc)
    assert result.data["time"] == tokyo and result.data["minutes_ahead_of_sweden"] == ahead
    assert f"{ahead // 60} timmar före svensk tid" in result.answer


async def test_american_summer_time_starts_three_weeks_before_the_swedish() -> None:
    result = await tell_time("klockan i New York", dt.datetime(2026, 3, 15, 12, 0, tzinfo=STOCKHOLM))
    assert result.answer == "Klockan är 07:00 i New York (söndag 15 mars), 5 timmar efter svensk tid."
    southern = await tell_time("klockan i Sydney", dt.datetime(2026, 1, 15, 12, 0, tzinfo=STOCKHOLM))
    assert southern.answer == "Klockan är 22:00 i Sydney (torsdag 15 januari), 10 timmar före svensk tid."


async def test_a_place_entity_wins_and_an_unlisted_nlu_place_is_swedish() -> None:
    entity = {"type": "place", "value": "Peking", "text": "Peking"}
    assert (await tell_time("Vad är klockan där?", entities=[entity])).data["zone"] == "Asia/Shanghai"
    tumba = await tell_time("vad är klockan i Tumba", entities=[{"type": "place", "value": "Tumba"}])
    assert tumba.ok and tumba.answer == "Klockan är 14:05."


async def test_an_unknown_place_is_a_swedish_failure_naming_it() -> None:
    result = await tell_time("Vad är klockan i Ouagadougou?")
    assert not result.ok and result.error == "unknown_place"
    assert result.answer == "Jag vet inte vilken tidszon Ouagadougou ligger i. I Sverige är klockan 14:05."
    atlantis = await TimeNowTool().run(TimeNowArgs(place="Atlantis"), context())
    assert not atlantis.ok and "Atlantis" in atlantis.answer


@pytest.mark.parametrize(
    ("query", "name", "zone"),
    [
        ("Asia/Tokyo", "Tokyo", "Asia/Tokyo"),
        ("america/new_york", "New York", "America/New_York"),
        ("Nagoya, Japan", "Nagoya", "Asia/Tokyo"),
        ("Osaka, Japan", "Osaka", "Asia/Tokyo"),
        ("SÃO PAULO", "São Paulo", "America/Sao_Paulo"),
        ("tromso", "Tromsø", "Europe/Oslo"),
        ("UTC", "UTC", "UTC"),
    ],
)
def test_find_place_reads_what_a_planner_writes(query: str, name: str, zone: str) -> None:
    place = find_place(query)
    assert place is not None and (place.name, place.zone) == (name, zone)


def test_a_town_in_a_country_with_several_zones_is_not_guessed() -> None:
    assert find_place("Fresno, USA") is None
    assert find_place("Atlantis") is None


def test_names_that_are_also_words_need_a_preposition() -> None:
    assert place_in_text("Sofia, vad är klockan?") is None
    found = place_in_text("vad är klockan i Sofia")
    assert found is not None and found.zone == "Europe/Sofia"


def test_the_gazetteer_is_large_and_every_zone_exists() -> None:
    table = places()
    assert len({place.name for place in table.values()}) >= 300
    for place in table.values():
        ZoneInfo(place.zone)


def test_every_world_place_the_nlu_knows_has_a_zone() -> None:
    rows = [line.split("\t") for line in NLU_PLACES.read_text(encoding="utf-8").splitlines() if "\tvärlden\t" in line]
    assert len(rows) > 50
    missing = [row[0] for row in rows if find_place(row[0]) is None]
    assert missing == []


@pytest.mark.parametrize(
    ("text", "zone"),
    [("Vad är klockan i Tokyo?", "Asia/Tokyo"), ("vad är klockan i Hongkong", "Asia/Hong_Kong"),
     ("hur mycket är klockan i Mexico City", "America/Mexico_City"), ("vad är klockan i Tumba", "Europe/Stockholm")],
)  # fmt: skip
async def test_with_the_real_nlu_entities(text: str, zone: str) -> None:
    assert (await tell_time(text, entities=extract_entities(text, TUESDAY))).data["zone"] == zone


# date.today


@pytest.mark.parametrize(
    ("day", "answer", "week", "iso_year"),
    [
        (dt.date(2026, 3, 3), "Idag är det tisdag den 3 mars 2026, vecka 10.", 10, 2026),
        (dt.date(2026, 1, 1), "Idag är det torsdag den 1 januari 2026, vecka 1.", 1, 2026),
        (dt.date(2026, 12, 31), "Idag är det torsdag den 31 december 2026, vecka 53.", 53, 2026),
        (dt.date(2027, 1, 1), "Idag är det fredag den 1 januari 2027, vecka 53.", 53, 2026),
        (dt.date(2025, 12, 29), "Idag är det måndag den 29 december 2025, vecka 1.", 1, 2026),
        (dt.date(2026, 8, 16), "Idag är det söndag den 16 augusti 2026, vecka 33.", 33, 2026),
    ],
)
async def test_today_with_weekday_and_iso_week(day: dt.date, answer: str, week: int, iso_year: int) -> None:
    result = await tell_date(dt.datetime.combine(day, dt.time(12), STOCKHOLM))
    assert result.ok and result.answer == answer
    assert (result.data["iso_week"], result.data["iso_year"], result.data["date"]) == (week, iso_year, day.isoformat())


async def test_today_is_the_swedish_day_whatever_zone_now_is_in() -> None:
    result = await tell_date(dt.datetime(2026, 3, 3, 23, 30, tzinfo=UTC))  # 00:30 on 4 March in Stockholm
    assert result.answer == "Idag är det onsdag den 4 mars 2026, vecka 10."
    naive = await tell_date(dt.datetime(2026, 3, 3, 23, 30))  # naive: already Stockholm time
    assert naive.answer.startswith("Idag är det tisdag den 3 mars")


@pytest.mark.parametrize(
    ("day", "answer"),
    [
        ("2026-03-04", "Imorgon är det onsdag den 4 mars 2026, vecka 10."),
        ("2026-03-05", "I övermorgon är det torsdag den 5 mars 2026, vecka 10."),
        ("2026-03-06", "Om 3 dagar är det fredag den 6 mars 2026, vecka 10."),
        ("2026-03-02", "Igår var det måndag den 2 mars 2026, vecka 10."),
        ("2026-03-01", "I förrgår var det söndag den 1 mars 2026, vecka 9."),
        ("2026-02-20", "För 11 dagar sedan var det fredag den 20 februari 2026, vecka 8."),
        ("inte ett datum", "Idag är det tisdag den 3 mars 2026, vecka 10."),
    ],
)
async def test_a_date_entity_names_another_day(day: str, answer: str) -> None:
    result = await tell_date(day=day)
    assert result.answer == answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("vad är det för dag imorgon?", "Imorgon är det onsdag den 4 mars 2026, vecka 10."),
        ("vilket datum är det på fredag?", "Om 3 dagar är det fredag den 6 mars 2026, vecka 10."),
        ("vilket datum är det idag?", "Idag är det tisdag den 3 mars 2026, vecka 10."),
    ],
)
async def test_dates_from_the_real_nlu(text: str, answer: str) -> None:
    tool = DateTodayTool()
    ctx = context(text, entities=extract_entities(text, TUESDAY))
    args = tool.args_from_context(ctx)
    assert isinstance(args, DateTodayArgs)
    assert (await tool.run(args, ctx)).answer == answer


async def test_invalid_arguments_raise() -> None:
    class Foreign(BaseModel):
        date: str

    with pytest.raises(ToolArgumentsError):
        await DateTodayTool().run(Foreign(date="fredag"), context())
    result = await DateTodayTool().run(Foreign(date="2026-03-10"), context())
    assert result.answer.startswith("Om 7 dagar är det tisdag den 10 mars") and result.args == {"date": "2026-03-10"}
