"""Route hints for every intent in the taxonomy."""

from __future__ import annotations

import pytest

from nlu.intents import INTENTS, OUT_OF_SCOPE, route_hint


@pytest.mark.parametrize(
    "label",
    [
        "time.now", "date.today", "math.calculate", "timer.set", "timer.cancel", "timer.status",
        "weather.lookup", "calendar.create_draft", "email.create_draft", "memory.store", "memory.query",
        "home.control",
    ],
)  # fmt: skip
def test_tool_intents(label: str) -> None:
    assert route_hint(label) == "tool"


def test_micro_deep_and_planner() -> None:
    assert route_hint("greeting.hello") == "micro"
    assert route_hint("smalltalk") == "micro"
    assert route_hint("info.query") == "deep"
    assert route_hint(OUT_OF_SCOPE) == "planner"
    assert route_hint("HassTurnOn") == "planner"  # a label outside the taxonomy


def test_rejected_prediction_goes_to_planner_whatever_the_label() -> None:
    assert route_hint("time.now", accepted=False) == "planner"


def test_taxonomy_is_complete_and_documented() -> None:
    assert len(INTENTS) == 16
    assert {route_hint(label) for label in INTENTS} == {"tool", "micro", "deep", "planner"}
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "services/nlu/INTENTS.md").read_text()
    for label in INTENTS:
        assert f"`{label}`" in doc
