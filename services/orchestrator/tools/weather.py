"""``weather.lookup``: current weather or a day's forecast for a Swedish (or any) place, from Open-Meteo.

Two calls per lookup: the geocoding API turns the place name into coordinates (kept in a small per-process
LRU, because a town does not move), the forecast API returns the current conditions and seven daily
aggregates in Europe/Stockholm time. The whole lookup runs under one deadline (``timeout_s``); anything that
goes wrong on the way (no connection, a 5xx, a body that is not the documented JSON, the deadline) becomes
``ok=False`` with "Jag kan inte nå vädertjänsten just nu." and an error code, never an exception.

Open-Meteo answers wind in km/h unless asked otherwise; the tool asks for m/s (``wind_speed_unit=ms``) and
still converts when the response's units say km/h.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alice.breaker import CircuitBreaker
from alice.errors import CircuitOpenError
from orchestrator.tools.base import STOCKHOLM, ToolArgumentsError, ToolContext, ToolResult
from orchestrator.tools.swedish import MONTHS_SV, WEEKDAYS_SV

GEOCODING_URL: Final = "https://geocoding-api.open-meteo.com"
FORECAST_URL: Final = "https://api.open-meteo.com"
DEFAULT_PLACE: Final = "Stockholm"
FORECAST_DAYS: Final = 7
UNREACHABLE_ANSWER: Final = "Jag kan inte nå vädertjänsten just nu."


#: WMO weather interpretation codes (the subset Open-Meteo uses) in plain Swedish.
WMO_CODES_SV: Final[Mapping[int, str]] = {
    0: "klart", 1: "mestadels klart", 2: "halvklart", 3: "mulet",
    45: "dimma", 48: "dimma med rimfrost",
    51: "lätt duggregn", 53: "duggregn", 55: "tätt duggregn",
    56: "lätt underkylt duggregn", 57: "underkylt duggregn",
    61: "lätt regn", 63: "regn", 65: "kraftigt regn", 66: "lätt underkylt regn", 67: "underkylt regn",
    71: "lätt snöfall", 73: "snöfall", 75: "kraftigt snöfall", 77: "snökorn",
    80: "lätta regnskurar", 81: "regnskurar", 82: "kraftiga regnskurar",
    85: "snöbyar", 86: "kraftiga snöbyar",
    95: "åska", 96: "åska med hagel", 99: "åska med kraftigt hagel",
}  # fmt: skip

log = structlog.get_logger("orchestrator.tools.weather")


def describe_weather(code: int) -> str:
    """The Swedish words for a WMO weather code ("okänt väder" for a code outside the table)."""
    return WMO_CODES_SV.get(code, "okänt väder")


# --- Open-Meteo responses ---------------------------------------------------------------------------------


class GeoPlace(BaseModel):
    """One geocoding result (the fields Alice uses; the API sends more)."""

    name: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    country: str | None = None
    admin1: str | None = None


class _GeocodingResponse(BaseModel):
    results: list[GeoPlace] = Field(default_factory=list)  # absent when nothing matched


class CurrentConditions(BaseModel):
    """The ``current`` block: temperature (°C), WMO code, wind (m/s once converted)."""

    time: str
    temperature_2m: float
    weather_code: int
    wind_speed_10m: float


class DayForecast(BaseModel):
    """One day of the ``daily`` block; Open-Meteo sends null for values it has not computed."""

    day: dt.date
    weather_code: int | None
    temperature_min: float | None
    temperature_max: float | None
    precipitation_mm: float | None


class _Daily(BaseModel):
    time: list[dt.date]
    weather_code: list[int | None]
    temperature_2m_max: list[float | None]
    temperature_2m_min: list[float | None]
    precipitation_sum: list[float | None]

    @model_validator(mode="after")
    def _same_lengths(self) -> _Daily:
        n = len(self.time)
        columns = (self.weather_code, self.temperature_2m_max, self.temperature_2m_min, self.precipitation_sum)
        if any(len(column) != n for column in columns):
            raise ValueError("daily columns differ in length")
        return self


class Forecast(BaseModel):
    """A forecast response: current conditions and the daily rows."""

    current: CurrentConditions | None = None
    current_units: dict[str, str] = Field(default_factory=dict)
    daily: _Daily

    def day(self, day: dt.date) -> DayForecast | None:
        """The row for ``day``, or None when the forecast does not cover it."""
        d = self.daily
        for i, when in enumerate(d.time):
            if when == day:
                return DayForecast(
                    day=when,
                    weather_code=d.weather_code[i],
                    temperature_min=d.temperature_2m_min[i],
                    temperature_max=d.temperature_2m_max[i],
                    precipitation_mm=d.precipitation_sum[i],
                )
        return None

    def wind_m_s(self) -> float | None:
        """The current wind in m/s, whatever unit the response used."""
        if self.current is None:
            return None
        unit = self.current_units.get("wind_speed_10m", "m/s")
        return self.current.wind_speed_10m / 3.6 if unit == "km/h" else self.current.wind_speed_10m


class WeatherResponseError(ValueError):
    """A response body that is not the documented JSON."""


def parse_geocoding(payload: Any) -> GeoPlace | None:
    """The best match of a geocoding response, or None when nothing matched."""
    try:
        results = _GeocodingResponse.model_validate(payload).results
    except ValidationError as exc:
        raise WeatherResponseError("unexpected geocoding response") from exc
    return results[0] if results else None


def parse_forecast(payload: Any) -> Forecast:
    """A forecast response, validated."""
    try:
        return Forecast.model_validate(payload)
    except ValidationError as exc:
        raise WeatherResponseError("unexpected forecast response") from exc


# --- Swedish answers ------------------------------------------------------------------------------------------


def _round(x: float) -> int:
    """Half away from zero, the way people round (Python's round() sends 2.5 to 2); never "-0"."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x)) or 0


def day_label(day: dt.date, today: dt.date) -> str:
    """ "idag (tisdag)", "imorgon (onsdag)", "på fredag (6 mars)"."""
    weekday = WEEKDAYS_SV[day.weekday()]
    if day == today:
        return f"idag ({weekday})"
    if day == today + dt.timedelta(days=1):
        return f"imorgon ({weekday})"
    return f"på {weekday} ({day.day} {MONTHS_SV[day.month - 1]})"


def _temperatures(low: float, high: float) -> str:
    lo, hi = _round(low), _round(high)
    return f"{hi} grader" if lo == hi else f"{lo} till {hi} grader"


def _precipitation(mm: float) -> str:
    if mm < 0.05:
        return "ingen nederbörd"
    if mm < 1:
        return f"{mm:.1f}".replace(".", ",") + " mm nederbörd"
    return f"{_round(mm)} mm nederbörd"


def current_answer(place: str, current: CurrentConditions, wind_m_s: float) -> str:
    """ "Just nu i Stockholm: mulet, 3 grader, vind 5 m/s." """
    what = describe_weather(current.weather_code)
    return f"Just nu i {place}: {what}, {_round(current.temperature_2m)} grader, vind {_round(wind_m_s)} m/s."


def day_answer(place: str, forecast: DayForecast, today: dt.date) -> str | None:
    """ "I Göteborg imorgon (onsdag): regn, 4 till 9 grader, 6 mm nederbörd." (None when the day has no data)."""
    f = forecast
    if f.weather_code is None or f.temperature_min is None or f.temperature_max is None:
        return None
    parts = [describe_weather(f.weather_code), _temperatures(f.temperature_min, f.temperature_max)]
    if f.precipitation_mm is not None:
        parts.append(_precipitation(f.precipitation_mm))
    return f"I {place} {day_label(f.day, today)}: {', '.join(parts)}."


def _date_words(day: dt.date) -> str:
    return f"{WEEKDAYS_SV[day.weekday()]} {day.day} {MONTHS_SV[day.month - 1]}"


# --- the tool -------------------------------------------------------------------------------------------------


class GeocodeCache:
    """Place name → coordinates, least recently used first out: bounded, per process, never shared state."""

    def __init__(self, max_entries: int = 128) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._entries: OrderedDict[str, GeoPlace] = OrderedDict()

    @staticmethod
    def _key(name: str) -> str:
        return " ".join(name.casefold().split())

    def get(self, name: str) -> GeoPlace | None:
        """The cached match for ``name`` (marked as just used), or None."""
        key = self._key(name)
        place = self._entries.get(key)
        if place is not None:
            self._entries.move_to_end(key)
        return place

    def put(self, name: str, place: GeoPlace) -> None:
        """Remember a match, dropping the least recently used one beyond the bound."""
        key = self._key(name)
        self._entries[key] = place
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class WeatherArgs(BaseModel):
    """Arguments of ``weather.lookup``."""

    model_config = ConfigDict(extra="forbid")

    place: str | None = Field(
        default=None, min_length=1, max_length=100, description="Ort, t.ex. 'Göteborg'. Utelämnad: Stockholm."
    )
    date: dt.date | None = Field(
        default=None, description="Dag (ISO 8601) från idag till sex dagar framåt. Utelämnad: vädret just nu."
    )


class _ServiceFailure(Exception):
    """Why the weather service could not be used (the error code of the ToolResult)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class WeatherTool:
    """``weather.lookup`` over Open-Meteo. ``client`` is a long-lived ``httpx.AsyncClient`` the app's lifespan
    owns (see :func:`create_weather_client`); the base URLs are configurable so tests can use a local server."""

    name: ClassVar[str] = "weather.lookup"
    description: ClassVar[str] = "Väder just nu eller prognos (upp till sex dagar framåt) för en ort, från Open-Meteo."
    Args: ClassVar[type[BaseModel]] = WeatherArgs
    timeout_s: ClassVar[float] = 3.0

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        geocoding_url: str = GEOCODING_URL,
        forecast_url: str = FORECAST_URL,
        timeout_s: float | None = None,
        cache: GeocodeCache | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        #: While Open-Meteo is unreachable, lookups answer "cannot reach" at once instead of after the timeout.
        self.breaker = breaker or CircuitBreaker("weather", what="The weather service")
        self._geocoding_url = geocoding_url.rstrip("/") + "/v1/search"
        self._forecast_url = forecast_url.rstrip("/") + "/v1/forecast"
        self._deadline_s = timeout_s if timeout_s is not None else self.timeout_s
        self._cache = cache if cache is not None else GeocodeCache()

    def args_from_context(self, ctx: ToolContext) -> WeatherArgs:
        """Place and day from the NLU's entities; both optional (Stockholm, right now)."""
        places = [p for p in ctx.entity_values("place") if isinstance(p, str) and p.strip()]
        dates = ctx.entity_values("date")
        try:
            return WeatherArgs(place=places[0] if places else None, date=dates[0] if dates else None)
        except ValidationError as exc:
            raise ToolArgumentsError(f"weather.lookup: {exc.errors()[0]['msg']}") from exc

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        """Look the weather up; every failure the user should hear about is an ``ok=False`` result."""
        a = _weather_args(args)
        place = a.place or DEFAULT_PLACE
        today = ctx.now.astimezone(STOCKHOLM).date()
        result_args = a.model_dump(mode="json")
        if a.date is not None and (out_of_range := _out_of_range_answer(a.date, today)) is not None:
            return _failure(result_args, "date_out_of_range", out_of_range)
        try:
            async with asyncio.timeout(self._deadline_s):
                location = await self._geocode(place)
                if location is None:
                    return _failure(result_args, "unknown_place", f"Jag hittar ingen ort som heter {place}.")
                forecast = parse_forecast(await self._get_json(self._forecast_url, _forecast_params(location)))
        except TimeoutError:
            self.breaker.failed()  # the deadline cancelled the call inside the breaker, which counted nothing
            return _unreachable(result_args, "weather_timeout")
        except CircuitOpenError:
            return _unreachable(result_args, "weather_circuit_open")
        except _ServiceFailure as exc:
            return _unreachable(result_args, exc.code)
        except WeatherResponseError:
            log.warning("weather_bad_response")
            return _unreachable(result_args, "weather_bad_response")
        return self._answer(a, location, forecast, today, result_args)

    def _answer(
        self, a: WeatherArgs, location: GeoPlace, forecast: Forecast, today: dt.date, result_args: dict[str, Any]
    ) -> ToolResult:
        name = location.name
        data: dict[str, Any] = {
            "place": name,
            "country": location.country,
            "latitude": location.latitude,
            "longitude": location.longitude,
            "place_defaulted": a.place is None,
        }
        if a.date is None:
            wind = forecast.wind_m_s()
            if forecast.current is None or wind is None:
                return _unreachable(result_args, "weather_bad_response")
            answer = current_answer(name, forecast.current, wind)
            data |= {"kind": "current", **forecast.current.model_dump(), "wind_speed_m_s": round(wind, 1)}
        else:
            row = forecast.day(a.date)
            text = day_answer(name, row, today) if row is not None else None
            if row is None or text is None:
                missing = f"Vädertjänsten har ingen prognos för {_date_words(a.date)} ännu."
                return _failure(result_args, "forecast_missing", missing)
            answer = text
            data |= {"kind": "day", **row.model_dump(mode="json")}
        if a.place is None:
            answer += f" Du nämnde ingen ort, så jag tog {DEFAULT_PLACE}."
        data["description"] = describe_weather(int(data["weather_code"]))
        return ToolResult(name=self.name, args=result_args, data=data, answer=answer)

    async def _geocode(self, place: str) -> GeoPlace | None:
        cached = self._cache.get(place)
        if cached is not None:
            return cached
        params = {"name": place, "count": "1", "language": "sv", "format": "json"}
        found = parse_geocoding(await self._get_json(self._geocoding_url, params))
        if found is not None:
            self._cache.put(place, found)
        return found

    async def _get_json(self, url: str, params: Mapping[str, str]) -> Any:
        async with self.breaker.guard():
            try:
                response = await self._client.get(url, params=params)
            except httpx.TimeoutException as exc:
                raise _ServiceFailure("weather_timeout") from exc
            except httpx.HTTPError as exc:
                log.warning("weather_unreachable", error=type(exc).__name__)
                raise _ServiceFailure("weather_unreachable") from exc
            if response.status_code != 200:
                log.warning("weather_upstream_status", status=response.status_code)
                raise _ServiceFailure("weather_upstream_error")
        try:
            return response.json()
        except ValueError as exc:
            raise WeatherResponseError("response is not JSON") from exc


def create_weather_client(timeout_s: float = 3.0) -> httpx.AsyncClient:
    """The client the lifespan creates for :class:`WeatherTool` (no base URL: two hosts; no request-id
    forwarding: Open-Meteo is a third party and gets no internal headers)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0),
        headers={"User-Agent": "Alice/1 (+weather.lookup)"},
    )


def _weather_args(args: BaseModel) -> WeatherArgs:
    if isinstance(args, WeatherArgs):
        return args
    try:
        return WeatherArgs.model_validate(args.model_dump())
    except ValidationError as exc:
        raise ToolArgumentsError(f"weather.lookup: {exc.errors()[0]['msg']}") from exc


def _forecast_params(location: GeoPlace) -> dict[str, str]:
    return {
        "latitude": f"{location.latitude:.4f}",
        "longitude": f"{location.longitude:.4f}",
        "current": "temperature_2m,weather_code,wind_speed_10m",
        "daily": "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum",
        "timezone": "Europe/Stockholm",
        "forecast_days": str(FORECAST_DAYS),
        "wind_speed_unit": "ms",
    }


def _out_of_range_answer(day: dt.date, today: dt.date) -> str | None:
    last = today + dt.timedelta(days=FORECAST_DAYS - 1)
    if day < today:
        return f"Jag kan bara ge väder från idag och framåt, inte för {_date_words(day)}."
    if day > last:
        return (
            f"Prognosen räcker bara sju dagar, till och med {_date_words(last)}, "
            f"så jag kan inte säga något om {_date_words(day)} än."
        )
    return None


def _failure(args: dict[str, Any], code: str, answer: str) -> ToolResult:
    return ToolResult(name=WeatherTool.name, args=args, data={}, answer=answer, ok=False, error=code)


def _unreachable(args: dict[str, Any], code: str) -> ToolResult:
    return _failure(args, code, UNREACHABLE_ANSWER)
