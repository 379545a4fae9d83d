"""The orchestrator's rule reading while the NLU is down (pure logic)."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestrator.fallback_nlu import fallback_parse

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Vad är klockan?", "time.now"),
        ("va e klockan i Tokyo", "time.now"),
        ("vilket datum är det", "date.today"),
        ("Vad är det för veckodag?", "date.today"),
        ("hur blir vädret i Göteborg", "weather.lookup"),
        ("kommer det att regna imorgon", "weather.lookup"),
        ("vad är 12 gånger 7", "math.calculate"),
        ("17 x 3", "math.calculate"),
    ],
)
def test_unmistakable_tool_questions_get_their_intent(text: str, intent: str) -> None:
    reading = fallback_parse(text, TODAY)
    assert reading is not None and reading.intent == intent and reading.route_hint == "tool"


def test_the_weather_gets_its_place_and_day() -> None:
    reading = fallback_parse("Kommer det att regna i Göteborg imorgon?", TODAY)
    assert reading is not None
    assert {"type": "place", "value": "Göteborg"} in reading.entities
    assert {"type": "date", "value": "2026-11-23"} in reading.entities


@pytest.mark.parametrize(
    "text",
    [
        "varför regnar det mer på västkusten",  # a question about the weather, not for today's
        "vad är skillnaden mellan väder och klimat",
        "hur varmt är det i sovrummet",  # the home's sensors
        "kolla vädret och sätt en timer på tio minuter",  # several tasks: the planner's
        "hur blir vädret i helgen",  # a day these rules cannot read
        "vilket datum är det på fredag",
        "berätta en saga",
        "ställ klockan på sju",
        "",
    ],
)
def test_anything_in_doubt_gets_no_reading(text: str) -> None:
    assert fallback_parse(text, TODAY) is None
