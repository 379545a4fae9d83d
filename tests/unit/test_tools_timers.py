"""The pure parts of the timer tools: Swedish durations and clock times, labels, commands, adjust/pause semantics,
choosing the timer meant, and arguments read from the NLU's entities. No Redis here (see
``tests/integration/test_tools_redis.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from orchestrator.tools.base import STOCKHOLM, Tool, ToolContext
from orchestrator.tools.timers import (
    Duration,
    Timer,
    TimerCancel,
    TimerRefusal,
    TimerSet,
    TimerStatus,
    TimerStore,
    adjusted,
    check_duration,
    extract_label,
    format_clock,
    format_duration,
    label_matches,
    new_timer,
    next_clock_time,
    only_one,
    parse_set,
    paused,
    resumed,
    select,
    timer_key,
)

NOW = datetime(2025, 3, 14, 14, 0, tzinfo=STOCKHOLM)
T0 = NOW.timestamp()


def _dur(text: str, phrase: str, seconds: float) -> dict[str, Any]:
    start = text.index(phrase)
    return {"type": "duration", "value": seconds, "text": phrase, "start": start, "end": start + len(phrase)}


def _durations(text: str, *pairs: tuple[str, float]) -> list[Duration]:
    return [Duration(seconds, text.index(phrase)) for phrase, seconds in pairs]


def _ctx(text: str, *entities: dict[str, Any]) -> ToolContext:
    return ToolContext(tenant="t", user="u", text=text, now=NOW, entities=entities)


def _timer(left: float, label: str | None = None, duration: float = 300, paused_: bool = False) -> Timer:
    if paused_:
        return Timer(f"id-{label}-{duration}", duration, T0, None, left, label)
    return Timer(f"id-{label}-{duration}", duration, T0, T0 + left, None, label)


# -- Swedish text -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5 minuter"),
        (5400, "1 timme och 30 minuter"),
        (45, "45 sekunder"),
        (60, "1 minut"),
        (1, "1 sekund"),
        (252, "4 minuter och 12 sekunder"),
        (3661, "1 timme, 1 minut och 1 sekund"),
        (7200, "2 timmar"),
        (86400, "24 timmar"),
        (4.2, "5 sekunder"),  # time left is rounded up: it has not rung yet
        (0, "0 sekunder"),
    ],
)
def test_swedish_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_clock_times_name_the_day_when_it_is_not_today() -> None:
    assert format_clock(T0 + 5 * 60, NOW) == "14:05"
    assert format_clock(T0 + 20 * 3600, NOW) == "i morgon 10:00"
    assert format_clock(T0 - 15 * 3600, NOW) == "i går 23:00"


# -- labels -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("timer 10 min för pastan", "pastan"),
        ("sätt en timer på 25 minuter för pastan", "pastan"),
        ("sätt på en timer för potatisen på 18 minuter", "potatisen"),
        ("sätt en timer som heter tvätt på 40 minuter", "tvätt"),
        ("starta en 5 minuters timer som heter pizza", "pizza"),
        ("hur länge kvar på pastatimern", "pasta"),
        ("stoppa tvätt-timern", "tvätt"),
        ("avbryt Kökstimer", "köks"),
        ("stoppa timern i köket", "köket"),
        ("pausa timern pizza", "pizza"),
        ("minska timern pizza med 5 minuter", "pizza"),
        ("pausa pizza timer", "pizza"),
        ("avbryt Kökets timer", "kökets"),
    ],
)
def test_labels_are_read_from_the_usual_phrasings(text: str, label: str) -> None:
    assert extract_label(text) == label


@pytest.mark.parametrize(
    "text",
    [
        "sätt en timer på fem minuter",
        "ta bort timern",
        "stäng av den där timern",
        "släng timern",
        "jag behöver inte timern längre",
        "finns det någon aktiv timer",
        "stoppa timern nu",
        "hur långt har timern kommit",
        "avbryt alla timers",
        "kör igång timern igen",
    ],
)
def test_no_label_from_verbs_adverbs_or_determiners(text: str) -> None:
    assert extract_label(text) is None


def test_a_duration_is_never_a_label() -> None:
    text = "ställ en timer för 5 minuter"
    span = (text.index("5 minuter"), text.index("5 minuter") + len("5 minuter"))
    assert extract_label(text, [span]) is None
    assert extract_label("starta en 45 sekunder timer") is None


@pytest.mark.parametrize(
    ("said", "stored", "same"),
    [
        ("pasta", "pastan", True),
        ("pastan", "pasta", True),
        ("köket", "köks", True),
        ("kökets", "köks", True),
        ("tvät", "tvätten", True),  # "tvättimern" drops a t
        ("potatisen", "potatis", True),
        ("PASTAN", "pasta", True),
        ("pizza", "pasta", False),
        ("korv", "kort", False),
        ("pasta", None, False),
    ],
)
def test_label_matching_ignores_swedish_endings(said: str, stored: str | None, same: bool) -> None:
    assert label_matches(said, stored) is same


# -- commands -----------------------------------------------------------------------------------------------
def test_start_reads_the_length() -> None:
    text = "ställ en timer på fem minuter"
    assert parse_set(text, _durations(text, ("fem minuter", 300))).action == "start"
    assert parse_set(text, _durations(text, ("fem minuter", 300))).amount_s == 300
    assert parse_set("sätt en timer", []).amount_s is None


@pytest.mark.parametrize(
    ("text", "pairs", "action", "amount", "target"),
    [
        ("lägg till 2 minuter på timern", [("2 minuter", 120)], "add", 120, None),
        ("förläng timern med 2 minuter", [("2 minuter", 120)], "add", 120, None),
        ("ta bort två minuter från timern", [("två minuter", 120)], "subtract", 120, None),
        ("ta bort 5 minuter från 1 timmes timer", [("5 minuter", 300), ("1 timmes", 3600)], "subtract", 300, 3600),
        ("korta timern på 1 timme med 5 minuter", [("1 timme", 3600), ("5 minuter", 300)], "subtract", 300, 3600),
        ("pausa timern", [], "pause", None, None),
        ("fortsätt timern som heter pizza", [], "resume", None, None),
        ("kör igång timern igen", [], "resume", None, None),
        ("lägg till en timer på 5 minuter", [("5 minuter", 300)], "start", 300, None),
    ],
)
def test_set_commands(
    text: str, pairs: list[tuple[str, float]], action: str, amount: float | None, target: float | None
) -> None:
    command = parse_set(text, _durations(text, *pairs))
    assert (command.action, command.amount_s, command.target_s) == (action, amount, target)


def test_a_clock_time_is_the_time_until_it_next_comes() -> None:
    assert next_clock_time("14:30", NOW) == 1800
    assert next_clock_time("07:00", NOW) == 17 * 3600  # tomorrow morning
    assert next_clock_time("25:00", NOW) is None


# -- semantics ----------------------------------------------------------------------------------------------
def test_limits_of_a_timers_length() -> None:
    check_duration(1)
    check_duration(86400)
    with pytest.raises(TimerRefusal) as short:
        check_duration(0.5)
    assert (short.value.code, short.value.answer) == ("duration_too_short", "En timer måste vara minst 1 sekund.")
    with pytest.raises(TimerRefusal) as long:
        new_timer(86401, T0)
    assert long.value.answer == "En timer kan vara högst 24 timmar."


def test_adding_moves_the_end_and_keeps_the_name() -> None:
    timer = _timer(left=252)
    longer = adjusted(timer, 120, T0)
    assert longer.ends_at == T0 + 372
    assert longer.duration_s == 300 and longer.name() == "timern på 5 minuter"
    shorter = adjusted(timer, -60, T0)
    assert shorter.remaining(T0) == 192


def test_adding_to_a_paused_timer_changes_the_time_left() -> None:
    timer = _timer(left=100, paused_=True)
    assert adjusted(timer, 60, T0 + 999).left_s == 160
    assert adjusted(timer, 60, T0 + 999).paused


def test_subtracting_past_zero_or_adding_past_24_hours_is_refused() -> None:
    timer = _timer(left=60, label="pastan")
    with pytest.raises(TimerRefusal) as refusal:
        adjusted(timer, -120, T0)
    assert refusal.value.code == "would_ring"
    assert refusal.value.answer == "Timern för pastan har bara 1 minut kvar, så jag kan inte dra av 2 minuter."
    with pytest.raises(TimerRefusal) as too_long:
        adjusted(timer, 86400, T0)
    assert too_long.value.code == "duration_too_long"


def test_pause_and_resume_keep_the_time_left() -> None:
    timer = _timer(left=300)
    held = paused(timer, T0 + 60)
    assert held.paused and held.left_s == 240
    assert held.remaining(T0 + 10_000) == 240  # a paused timer does not run
    again = resumed(held, T0 + 1000)
    assert again.ends_at == T0 + 1240 and not again.paused
    assert paused(held, T0 + 5000) is held and resumed(again, T0) is again


def test_a_timer_rings_at_its_end() -> None:
    timer = _timer(left=10)
    assert not timer.rung(T0 + 9.9)
    assert timer.rung(T0 + 10) and timer.remaining(T0 + 20) == 0


def test_timer_json_round_trip() -> None:
    for timer in (_timer(left=10, label="pastan"), _timer(left=5, paused_=True)):
        assert Timer.from_json(timer.to_json()) == timer


def test_choosing_the_timer_meant() -> None:
    pasta, egg = _timer(252, "pastan", 600), _timer(60, None, 300)
    timers = [pasta, egg]
    assert select(timers, "pasta", None) == [pasta]
    assert select(timers, None, 300) == [egg]
    assert select(timers, None, None) == timers
    assert only_one([egg], timers, None, T0) is egg
    with pytest.raises(TimerRefusal) as which:
        only_one(timers, timers, None, T0)
    assert which.value.code == "ambiguous_timer"
    assert which.value.answer == (
        "Du har 2 timrar: timern för pastan (4 minuter och 12 sekunder kvar) och timern på 5 minuter "
        "(1 minut kvar). Vilken menar du?"
    )
    with pytest.raises(TimerRefusal) as missing:
        only_one([], timers, "pizza", T0)
    assert missing.value.code == "timer_not_found"
    assert missing.value.answer.startswith("Jag hittar ingen timer för pizza. Du har timern för pastan")
    with pytest.raises(TimerRefusal) as none:
        only_one([], [], None, T0)
    assert (none.value.code, none.value.answer) == ("no_timer", "Du har ingen timer igång.")


def test_keys_cannot_collide_across_tenants_and_users() -> None:
    assert timer_key("a:b", "c") != timer_key("a", "b:c")
    assert timer_key("acme", "anna") == "alice:timer:acme:anna"


# -- arguments from the NLU ---------------------------------------------------------------------------------
def _tools() -> tuple[TimerSet, TimerCancel, TimerStatus]:
    store = TimerStore(cast(Redis, object()))  # args_from_context never touches Redis
    return TimerSet(store), TimerCancel(store), TimerStatus(store)


def test_tools_satisfy_the_protocol() -> None:
    tools: list[Tool] = list(_tools())
    assert [t.name for t in tools] == ["timer.set", "timer.cancel", "timer.status"]


def test_set_arguments_from_entities() -> None:
    set_tool, _, _ = _tools()
    text = "timer 10 min för pastan"
    args = set_tool.args_from_context(_ctx(text, _dur(text, "10 min", 600)))
    assert args is not None
    assert (args.action, args.duration_s, args.label) == ("start", 600, "pastan")
    text = "lägg till 2 minuter på timern"
    args = set_tool.args_from_context(_ctx(text, _dur(text, "2 minuter", 120)))
    assert args is not None and (args.action, args.duration_s) == ("add", 120)


def test_set_without_a_length_asks() -> None:
    set_tool, _, _ = _tools()
    assert set_tool.args_from_context(_ctx("sätt en timer")) is None
    assert set_tool.args_from_context(_ctx("lägg till tid på timern")) is None
    pause = set_tool.args_from_context(_ctx("pausa timern"))
    assert pause is not None and pause.action == "pause"


def test_set_until_a_clock_time() -> None:
    set_tool, _, _ = _tools()
    text = "väck mig kl 14:30"
    start = text.index("14:30")
    entity = {"type": "time", "value": "14:30", "text": "14:30", "start": start, "end": start + 5}
    args = set_tool.args_from_context(_ctx(text, entity))
    assert args is not None and args.duration_s == 1800


def test_cancel_and_status_arguments() -> None:
    _, cancel, status = _tools()
    assert cancel.args_from_context(_ctx("stoppa alla timers")).all
    text = "avbryt 5 minuters timer"
    one = cancel.args_from_context(_ctx(text, _dur(text, "5 minuters", 300)))
    assert (one.all, one.duration_s, one.label) == (False, 300, None)
    assert status.args_from_context(_ctx("hur länge kvar på pastatimern")).label == "pasta"
