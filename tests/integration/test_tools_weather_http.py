"""weather.lookup against a real HTTP server on a free port that serves the recorded Open-Meteo responses.

The first path segment of the base URL picks the server's behaviour (``/ok``, ``/503``, ``/hang``,
``/badjson``), so one server covers every case: success, unknown place, a 5xx, malformed JSON, an answer that
never comes (bounded by the tool's deadline), and a port nobody listens on. Every failure must be an
``ok=False`` result with a Swedish answer, never an exception.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from orchestrator.tools.base import STOCKHOLM, ToolContext
from orchestrator.tools.weather import UNREACHABLE_ANSWER, WeatherArgs, WeatherTool, create_weather_client
from procs import free_port

DATA = Path(__file__).resolve().parents[1] / "data" / "openmeteo"
NOW = dt.datetime(2026, 3, 3, 10, 50, tzinfo=STOCKHOLM)  # Tuesday; the recorded forecasts start that day
GEOCODING = {"göteborg": "geocoding_goteborg.json", "stockholm": "geocoding_stockholm.json"}
FORECASTS = {"57.7072": "forecast_goteborg.json", "59.3294": "forecast_stockholm.json"}
DEADLINE_S = 0.5


@dataclass
class OpenMeteo:
    url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(state: OpenMeteo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            mode, _, endpoint = parts.path.lstrip("/").partition("/")
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            state.requests.append((f"/{endpoint}", query))
            if mode == "503":
                return self._send(503, b"<html>Service Unavailable</html>", "text/html")
            if mode == "hang":
                state.release.wait(10)
                return None
            if mode == "badjson":
                return self._send(200, b'{"results": [{"name": "G\xc3\xb6teborg", "latitude": 57.7', "application/json")
            if endpoint == "v1/search":
                name = GEOCODING.get(query.get("name", "").casefold(), "geocoding_empty.json")
                return self._send(200, (DATA / name).read_bytes(), "application/json")
            if endpoint == "v1/forecast" and query.get("latitude") in FORECASTS:
                return self._send(200, (DATA / FORECASTS[query["latitude"]]).read_bytes(), "application/json")
            return self._send(400, b'{"error": true, "reason": "unexpected request"}', "application/json")

        def _send(self, status: int, body: bytes, media_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            pass

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[OpenMeteo]:
    state = OpenMeteo(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def open_meteo(server: OpenMeteo) -> OpenMeteo:
    server.requests.clear()
    return server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with create_weather_client(timeout_s=2.0) as c:
        yield c


def tool(client: httpx.AsyncClient, base: str, forecast_base: str | None = None) -> WeatherTool:
    return WeatherTool(client, geocoding_url=base, forecast_url=forecast_base or base, timeout_s=DEADLINE_S)


def ctx(text: str = "hur blir vädret") -> ToolContext:
    return ToolContext(tenant="t", user="u", text=text, now=NOW)


async def test_goteborg_tomorrow(open_meteo: OpenMeteo, client: httpx.AsyncClient) -> None:
    result = await tool(client, f"{open_meteo.url}/ok").run(
        WeatherArgs(place="Göteborg", date=dt.date(2026, 3, 4)), ctx()
    )
    assert result.ok, result
    assert result.answer == "I Göteborg imorgon (onsdag): regn, 4 till 9 grader, 6 mm nederbörd."
    assert result.data["kind"] == "day"
    assert result.data["precipitation_mm"] == 6.2
    assert result.args == {"place": "Göteborg", "date": "2026-03-04"}
    (geo_path, geo_query), (fc_path, fc_query) = open_meteo.requests
    assert geo_path == "/v1/search"
    assert geo_query == {"name": "Göteborg", "count": "1", "language": "sv", "format": "json"}
    assert fc_path == "/v1/forecast"
    assert fc_query["latitude"] == "57.7072" and fc_query["longitude"] == "11.9668"
    assert fc_query["timezone"] == "Europe/Stockholm" and fc_query["forecast_days"] == "7"
    assert fc_query["daily"] == "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum"
    assert fc_query["current"] == "temperature_2m,weather_code,wind_speed_10m"
    assert fc_query["wind_speed_unit"] == "ms"


async def test_no_place_means_stockholm_right_now_and_says_so(open_meteo: OpenMeteo, client: httpx.AsyncClient) -> None:
    result = await tool(client, f"{open_meteo.url}/ok").run(WeatherArgs(), ctx())
    assert result.ok, result
    assert (
        result.answer == "Just nu i Stockholm: mulet, 3 grader, vind 5 m/s. Du nämnde ingen ort, så jag tog Stockholm."
    )
    assert result.data["place_defaulted"] is True
    assert result.data["kind"] == "current"


async def test_geocoding_is_cached_within_bounds(open_meteo: OpenMeteo, client: httpx.AsyncClient) -> None:
    weather = tool(client, f"{open_meteo.url}/ok")
    for _ in range(3):
        assert (await weather.run(WeatherArgs(place="Göteborg"), ctx())).ok
    paths = [path for path, _ in open_meteo.requests]
    assert paths == ["/v1/search", "/v1/forecast", "/v1/forecast", "/v1/forecast"]


async def test_unknown_place_is_named(open_meteo: OpenMeteo, client: httpx.AsyncClient) -> None:
    result = await tool(client, f"{open_meteo.url}/ok").run(WeatherArgs(place="Blåkulla"), ctx())
    assert not result.ok
    assert result.error == "unknown_place"
    assert result.answer == "Jag hittar ingen ort som heter Blåkulla."
    assert [path for path, _ in open_meteo.requests] == ["/v1/search"]


@pytest.mark.parametrize(
    ("day", "words"),
    [(dt.date(2026, 3, 10), "till och med måndag 9 mars"), (dt.date(2026, 3, 2), "från idag och framåt")],
)
async def test_a_day_outside_the_forecast_is_explained_without_asking(
    open_meteo: OpenMeteo, client: httpx.AsyncClient, day: dt.date, words: str
) -> None:
    result = await tool(client, f"{open_meteo.url}/ok").run(WeatherArgs(place="Göteborg", date=day), ctx())
    assert not result.ok
    assert result.error == "date_out_of_range"
    assert words in result.answer
    assert open_meteo.requests == []


async def test_server_error(open_meteo: OpenMeteo, client: httpx.AsyncClient) -> None:
    result = await tool(client, f"{open_meteo.url}/503").run(WeatherArgs(place="Göteborg"), ctx())
    assert (result.ok, result.error, result.answer) == (False, "weather_upstream_error", UNREACHABLE_ANSWER)


async def test_forecast_server_error_after_a_good_geocoding(open_meteo: OpenMeteo, client: httpx.AsyncClient) -> None:
    weather = tool(client, f"{open_meteo.url}/ok", forecast_base=f"{open_meteo.url}/503")
    result = await weather.run(WeatherArgs(place="Göteborg", date=dt.date(2026, 3, 4)), ctx())
    assert (result.ok, result.error, result.answer) == (False, "weather_upstream_error", UNREACHABLE_ANSWER)


async def test_malformed_json(open_meteo: OpenMeteo, client: httpx.AsyncClient) -> None:
    result = await tool(client, f"{open_meteo.url}/badjson").run(WeatherArgs(place="Göteborg"), ctx())
    assert (result.ok, result.error, result.answer) == (False, "weather_bad_response", UNREACHABLE_ANSWER)


async def test_nobody_listening(client: httpx.AsyncClient) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = await tool(client, closed).run(WeatherArgs(place="Göteborg"), ctx())
    assert (result.ok, result.error, result.answer) == (False, "weather_unreachable", UNREACHABLE_ANSWER)


async def test_an_unreachable_service_opens_the_breaker_and_then_answers_at_once(client: httpx.AsyncClient) -> None:
    weather = tool(client, f"http://127.0.0.1:{free_port()}")
    for _ in range(5):  # five failures in a row open it
        assert (await weather.run(WeatherArgs(place="Göteborg"), ctx())).error == "weather_unreachable"
    assert weather.breaker.view()["state"] == "open"
    result = await weather.run(WeatherArgs(place="Malmö"), ctx())
    assert (result.ok, result.error, result.answer) == (False, "weather_circuit_open", UNREACHABLE_ANSWER)


async def test_a_hanging_server_is_cut_off_at_the_deadline(open_meteo: OpenMeteo, client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    result = await tool(client, f"{open_meteo.url}/hang").run(WeatherArgs(place="Göteborg"), ctx())
    elapsed = time.monotonic() - started
    assert (result.ok, result.error, result.answer) == (False, "weather_timeout", UNREACHABLE_ANSWER)
    assert DEADLINE_S * 0.9 <= elapsed < DEADLINE_S + 1.0
    assert [path for path, _ in open_meteo.requests] == ["/v1/search"]
