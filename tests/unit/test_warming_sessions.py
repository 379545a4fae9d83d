"""Telemetry events into sessions and (moment, next intent) pairs; the JSONL format of `alice predict train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.warming.sessions import Event, EventFormatError, moment_after, read_events, sessions, transitions


def _e(ts: float, intent: str, session: str = "s1", tenant: str = "acme") -> Event:
    return Event(ts=ts, tenant=tenant, session=session, intent=intent)


def test_sessions_group_by_tenant_and_session_and_split_after_a_long_gap() -> None:
    events = [_e(0, "a"), _e(10, "b", "s2"), _e(60, "c"), _e(60 + 1801, "d"), _e(5, "x", tenant="other")]
    grouped = sessions(events)
    assert [[e.intent for e in s] for s in grouped] == [["a", "c"], ["x"], ["b"], ["d"]]


def test_moment_after_holds_the_last_intents_newest_first_and_the_pace() -> None:
    session = [_e(0, "a"), _e(30, "b"), _e(50, "c"), _e(95, "d")]
    moment = moment_after(session, 3)
    assert moment.history == ("d", "c", "b") and moment.turn == 4 and moment.pace_s == 45 and moment.ts == 95
    first = moment_after(session, 0)
    assert first.history == ("a",) and first.pace_s == 0 and first.turn == 1


def test_transitions_pair_each_request_with_the_next() -> None:
    pairs = transitions(sessions([_e(0, "a"), _e(30, "b"), _e(50, "c"), _e(0, "x", "s2")]))
    assert [(m.history[0], target) for m, target in pairs] == [("a", "b"), ("b", "c")]


def test_read_events_round_trip_and_bad_lines(tmp_path: Path) -> None:
    good = Event(1.5, "acme", "s", "info.query", "deep", True, "vad är en fjord")
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(good.to_json(), ensure_ascii=False) + "\n\n" + json.dumps({"ts": 2}) + "\n")
    with pytest.raises(EventFormatError, match=r"events.jsonl:3: bad event"):
        read_events(path)
    path.write_text(json.dumps(good.to_json(), ensure_ascii=False) + "\nnot json\n")
    with pytest.raises(EventFormatError, match=r":2:"):
        read_events(path)
    path.write_text(json.dumps(good.to_json(), ensure_ascii=False) + "\n")
    assert read_events(path) == [good]


def test_an_event_without_intent_reads_as_none() -> None:
    event = Event.from_json({"ts": 1, "tenant": "t", "session": "s", "intent": None})
    assert event.intent == "none" and event.question is None
