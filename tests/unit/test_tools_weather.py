"""weather.lookup's pure parts: WMO words, Swedish answers, picking the day, reading the recorded responses,
arguments from the NLU's entities and the bounded geocoding cache. No server (see the integration tests)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.tools.base import STOCKHOLM, ToolArgumentsError, ToolContext, json_schema
from orchestrator.tools.weather import (
    WMO_CODES_SV,
    CurrentConditions,
    DayForecast,
    GeocodeCache,
    GeoPlace,
    WeatherArgs,
    WeatherResponseError,
    WeatherTool,
    current_answer,
    day_answer,
    day_label,
    describe_weather,
    parse_forecast,
    parse_geocoding,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "openmeteo"
NOW = dt.datetime(2026, 3, 3, 10, 50, tzinfo=STOCKHOLM)  # a Tuesday
TODAY = NOW.date()


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def ctx(*entities: dict[str, Any], text: str = "hur blir vädret") -> ToolContext:
    return ToolContext(tenant="t", user="u", text=text, now=NOW, entities=entities)


@pytest.mark.parametrize(
    ("code", "words"),
    [(0, "klart"), (2, "halvklart"), (3, "mulet"), (45, "dimma"), (53, "duggregn"), (63, "regn"), (73, "snöfall")]
    + [(95, "åska"), (81, "regnskurar"), (86, "kraftiga snöbyar"), (4, "okänt väder"), (100, "okänt väder")],
)
def test_wmo_codes_in_swedish(code: int, words: str) -> None:
    assert describe_weather(code) == words


def test_every_open_meteo_code_has_swedish_words() -> None:
    documented = {0, 1, 2, 3, 45, 48, 51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 71, 73, 75, 77, 80, 81, 82, 85, 86}
    assert documented | {95, 96, 99} == set(WMO_CODES_SV)
    assert all(w and w == w.lower() for w in WMO_CODES_SV.values())


def test_geocoding_responses_parse_to_the_best_match_or_none() -> None:
    gbg = parse_geocoding(recorded("geocoding_goteborg.json"))
    assert gbg == GeoPlace(
        name="Göteborg", latitude=57.70716, longitude=11.96679, country="Sverige", admin1="Västra Götaland"
    )
    assert parse_geocoding(recorded("geocoding_empty.json")) is None
    assert parse_geocoding({"results": []}) is None


@pytest.mark.parametrize(
    "payload",
    [[], "nej", {"results": [{"name": "X"}]}, {"results": [{"name": "X", "latitude": 91, "longitude": 0}]}],
)
def test_unexpected_geocoding_bodies_are_errors(payload: Any) -> None:
    with pytest.raises(WeatherResponseError):
        parse_geocoding(payload)


def test_forecast_picks_the_asked_day() -> None:
    forecast = parse_forecast(recorded("forecast_goteborg.json"))
    wednesday = forecast.day(dt.date(2026, 3, 4))
    assert wednesday == DayForecast(
        day=dt.date(2026, 3, 4), weather_code=63, temperature_min=4.2, temperature_max=8.9, precipitation_mm=6.2
    )
    assert forecast.day(dt.date(2026, 3, 9)) is not None
    assert forecast.day(dt.date(2026, 3, 10)) is None
    assert forecast.day(dt.date(2026, 3, 2)) is None


def test_forecast_current_conditions_and_wind_units() -> None:
    payload = recorded("forecast_stockholm.json")
    forecast = parse_forecast(payload)
    assert forecast.current == CurrentConditions(
        time="2026-03-03T10:45", temperature_2m=3.2, weather_code=3, wind_speed_10m=4.8
    )
    assert forecast.wind_m_s() == pytest.approx(4.8)
    payload["current_units"]["wind_speed_10m"] = "km/h"
    payload["current"]["wind_speed_10m"] = 18.0
    assert parse_forecast(payload).wind_m_s() == pytest.approx(5.0)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("daily"),
        lambda p: p["daily"]["weather_code"].pop(),  # columns of different lengths
        lambda p: p["daily"]["time"].__setitem__(0, "igår"),
        lambda p: p["current"].__setitem__("temperature_2m", "varmt"),
    ],
)
def test_unexpected_forecast_bodies_are_errors(mutate: Any) -> None:
    payload = recorded("forecast_goteborg.json")
    mutate(payload)
    with pytest.raises(WeatherResponseError):
        parse_forecast(payload)


def test_day_labels() -> None:
    assert day_label(TODAY, TODAY) == "idag (tisdag)"
    assert day_label(dt.date(2026, 3, 4), TODAY) == "imorgon (onsdag)"
    assert day_label(dt.date(2026, 3, 6), TODAY) == "på fredag (6 mars)"
    assert day_label(dt.date(2026, 1, 1), dt.date(2025, 12, 31)) == "imorgon (torsdag)"


def test_answers_from_the_recorded_forecasts() -> None:
    gbg = parse_forecast(recorded("forecast_goteborg.json"))
    wednesday = gbg.day(dt.date(2026, 3, 4))
    assert wednesday is not None
    assert (
        day_answer("Göteborg", wednesday, TODAY)
        == "I Göteborg imorgon (onsdag): regn, 4 till 9 grader, 6 mm nederbörd."
    )
    saturday = gbg.day(dt.date(2026, 3, 7))
    assert saturday is not None
    assert (
        day_answer("Göteborg", saturday, TODAY)
        == "I Göteborg på lördag (7 mars): klart, -3 till 5 grader, ingen nederbörd."
    )
    sthlm = parse_forecast(recorded("forecast_stockholm.json"))
    assert sthlm.current is not None
    assert current_answer("Stockholm", sthlm.current, 4.8) == "Just nu i Stockholm: mulet, 3 grader, vind 5 m/s."
    thursday = sthlm.day(dt.date(2026, 3, 5))
    assert thursday is not None
    assert (
        day_answer("Stockholm", thursday, TODAY)
        == "I Stockholm på torsdag (5 mars): dimma, 0 till 3 grader, 0,2 mm nederbörd."
    )
    monday = sthlm.day(dt.date(2026, 3, 9))  # precipitation null: left out, not invented
    assert monday is not None
    assert day_answer("Stockholm", monday, TODAY) == "I Stockholm på måndag (9 mars): klart, -4 till 3 grader."


def test_rounding_is_half_away_from_zero_and_never_minus_zero() -> None:
    day = DayForecast(day=TODAY, weather_code=0, temperature_min=-0.4, temperature_max=2.5, precipitation_mm=0.04)
    assert day_answer("Kiruna", day, TODAY) == "I Kiruna idag (tisdag): klart, 0 till 3 grader, ingen nederbörd."
    same = DayForecast(day=TODAY, weather_code=71, temperature_min=-2.6, temperature_max=-2.5, precipitation_mm=1.5)
    assert day_answer("Kiruna", same, TODAY) == "I Kiruna idag (tisdag): lätt snöfall, -3 grader, 2 mm nederbörd."
    windy = CurrentConditions(time="t", temperature_2m=-0.2, weather_code=1, wind_speed_10m=0)
    assert current_answer("Kiruna", windy, 12.5) == "Just nu i Kiruna: mestadels klart, 0 grader, vind 13 m/s."


def test_a_day_without_values_has_no_answer() -> None:
    empty = DayForecast(day=TODAY, weather_code=None, temperature_min=1, temperature_max=2, precipitation_mm=0)
    assert day_answer("Umeå", empty, TODAY) is None


def test_args_from_entities() -> None:
    tool = WeatherTool(client=None)  # type: ignore[arg-type]  # args_from_context never touches the client
    assert tool.args_from_context(ctx()) == WeatherArgs(place=None, date=None)
    place = {"type": "place", "value": "Göteborg", "text": "gbg", "start": 13, "end": 16}
    tomorrow = {"type": "date", "value": "2026-03-04", "text": "imorgon", "start": 17, "end": 24}
    assert tool.args_from_context(ctx(place, tomorrow)) == WeatherArgs(place="Göteborg", date=dt.date(2026, 3, 4))
    with pytest.raises(ToolArgumentsError):
        tool.args_from_context(ctx({"type": "date", "value": "på fredag", "text": "på fredag"}))


def test_args_schema_for_a_planner() -> None:
    schema = json_schema(WeatherTool(client=None))  # type: ignore[arg-type]
    assert schema["name"] == "weather.lookup"
    assert set(schema["parameters"]["properties"]) == {"place", "date"}
    assert not schema["parameters"].get("required")
    with pytest.raises(ValueError):
        WeatherArgs.model_validate({"place": "Lund", "when": "idag"})


def test_geocode_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    cache = GeocodeCache(max_entries=2)
    places = {n: GeoPlace(name=n, latitude=60, longitude=15) for n in ("Lund", "Umeå", "Visby")}
    cache.put("Lund", places["Lund"])
    cache.put("Umeå", places["Umeå"])
    assert cache.get("  LUND ") == places["Lund"]  # Lund is now the most recently used
    cache.put("Visby", places["Visby"])
    assert len(cache) == 2
    assert cache.get("Umeå") is None
    assert cache.get("lund") == places["Lund"]
    assert cache.get("visby") == places["Visby"]
    with pytest.raises(ValueError):
        GeocodeCache(max_entries=0)
