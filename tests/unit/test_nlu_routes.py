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


# -- route hints from entities and complexity (nlu.routing) ---------------------------------------------------
def _e(kind: str, value: object = 1, text: str = "x") -> dict[str, object]:
    return {"type": kind, "value": value, "text": text, "start": 0, "end": len(text)}


@pytest.mark.parametrize(
    ("label", "text", "entities", "expected"),
    [
        ("timer.set", "sätt en timer på fem minuter", [_e("duration", 300, "fem minuter")], "tool"),
        ("timer.set", "sätt en timer till kl 15", [_e("time", "15:00", "kl 15")], "tool"),
        ("timer.set", "sätt en timer", [], "planner"),
        ("timer.set", "pausa timern", [], "tool"),
        ("timer.set", "återuppta kökets timer", [], "tool"),
        ("math.calculate", "vad är 150 delat med 6", [_e("expression", 25, "150 delat med 6")], "tool"),
        ("math.calculate", "räkna ut det där", [], "planner"),
        ("email.create_draft", "mejla anna", [_e("person", "Anna", "anna")], "tool"),
        ("email.create_draft", "skriv till a@b.se", [_e("email", "a@b.se", "a@b.se")], "tool"),
        ("email.create_draft", "mejla hyresvärden om elementet", [], "tool"),
        ("calendar.create_draft", "boka möte imorgon", [_e("date", "2025-01-02", "imorgon")], "tool"),
        ("calendar.create_draft", "boka ett möte med Erik", [_e("person", "Erik", "Erik")], "planner"),
        ("weather.lookup", "hur blir vädret", [], "tool"),
        ("weather.lookup", "vädret i Göteborg", [_e("place", "Göteborg", "Göteborg")], "tool"),
        ("time.now", "vad är klockan", [], "tool"),
        ("home.control", "tänd lampan", [_e("number", 1, "1")], "tool"),
        ("greeting.hello", "hej", [], "micro"),
        ("info.query", "varför är himlen blå", [], "deep"),
        ("smalltalk", "tack", [_e("phone", "+46701234567", "070-123 45 67")], "micro"),
    ],
)
def test_plan_route_uses_entity_completeness(
    label: str, text: str, entities: list[dict[str, object]], expected: str
) -> None:
    from nlu.routing import plan_route

    assert plan_route(label, True, entities, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "släck lampan och sen sätt en timer på fem minuter",
        "boka ett möte imorgon och även skicka ett mejl till Anna",
        "kolla vädret, därefter påminn mig",
        " ".join(["ord"] * 26),
    ],
)
def test_multi_step_or_long_requests_go_to_the_planner(text: str) -> None:
    from nlu.routing import plan_route

    entities = [_e("duration", 300), _e("date", "2025-01-02"), _e("person", "Anna")]
    assert plan_route("timer.set", True, entities, text) == "planner"
    assert plan_route("greeting.hello", True, [], text) == "planner"


def test_two_intents_joined_go_to_the_planner_but_one_does_not() -> None:
    from nlu.routing import plan_route

    text, dur = "sätt en timer på fem minuter och tänd lampan", [_e("duration", 300)]
    assert plan_route("timer.set", True, dur, text, runner_up=("home.control", 0.35)) == "planner"
    assert plan_route("timer.set", True, dur, text, runner_up=("home.control", 0.05)) == "tool"
    assert (
        plan_route("timer.set", True, dur, "sätt en timer på 1 timme och 15 minuter", ("timer.status", 0.1)) == "tool"
    )


def test_long_open_question_stays_deep_and_rejections_plan() -> None:
    from nlu.routing import plan_route

    long_question = "kan du förklara " + " ".join(["mycket"] * 30) + " hur inflation fungerar"
    assert plan_route("info.query", True, [], long_question) == "deep"
    assert plan_route("info.query", True, [], "förklara inflation och sen deflation") == "planner"
    assert plan_route("time.now", False, [], "klockan") == "planner"
    assert plan_route(OUT_OF_SCOPE, True, [], "asdf") == "planner"


def test_a_greeting_with_chit_chat_is_one_micro_answer_not_two_tasks() -> None:
    from nlu.routing import plan_route

    text = "hallå där, trevligt att höras"
    assert plan_route("greeting.hello", True, [], text, runner_up=("smalltalk", 0.4)) == "micro"
    assert plan_route("greeting.hello", True, [], text, runner_up=("info.query", 0.4)) == "planner"


def test_a_bare_time_or_date_asks_nothing_and_goes_to_the_planner() -> None:
    from nlu.routing import is_bare_value, plan_route

    def span(kind: str, value: object, text: str, whole: str) -> dict[str, object]:
        start = whole.index(text)
        return {"type": kind, "value": value, "text": text, "start": start, "end": start + len(text)}

    bare = "Klockan 14"
    assert is_bare_value(bare, [span("time", "14:00", "Klockan 14", bare)])
    assert plan_route("time.now", True, [span("time", "14:00", "Klockan 14", bare)], bare) == "planner"
    both = "imorgon, kl 9"
    entities = [span("date", "2025-01-02", "imorgon", both), span("time", "09:00", "kl 9", both)]
    assert plan_route("date.today", True, entities, both) == "planner"
    question = "är det fredag idag?"
    entities = [span("date", "2025-01-03", "fredag", question), span("date", "2025-01-01", "idag", question)]
    assert not is_bare_value(question, entities) and plan_route("date.today", True, entities, question) == "tool"
    assert not is_bare_value("vad är klockan", []) and plan_route("time.now", True, [], "vad är klockan") == "tool"
    # only the questions about now: a bare duration is still a timer's argument
    timer = "fem minuter"
    assert plan_route("timer.set", True, [span("duration", 300, timer, timer)], timer) == "tool"
