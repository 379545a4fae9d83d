"""The next-intent model's features: time of day on Fibonacci harmonics, previous intents, tenant, session shape."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from orchestrator.warming.features import DAY_HARMONICS, START, FeatureSpec, Moment

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SPEC = FeatureSpec(intents=("greeting.hello", "info.query", "smalltalk"), tenants=("acme", "globex"))


def _ts(*args: int) -> float:
    return datetime(*args, tzinfo=STOCKHOLM).timestamp()


def test_every_column_has_a_name() -> None:
    row = SPEC.row(Moment("acme", ("info.query",), _ts(2026, 1, 7, 9, 0)))
    assert row.shape == (SPEC.width,) == (len(SPEC.names()),)


def test_the_same_clock_time_gives_the_same_day_features_on_other_days() -> None:
    tuesday = SPEC.time_features(_ts(2026, 1, 6, 7, 30))
    thursday = SPEC.time_features(_ts(2026, 1, 8, 7, 30))
    day = 2 * len(DAY_HARMONICS)
    assert tuesday[:day] == pytest.approx(thursday[:day])
    assert tuesday[day : day + 2] != pytest.approx(thursday[day : day + 2])  # the week pair tells the days apart


def test_the_day_features_are_continuous_over_midnight() -> None:
    before = np.array(SPEC.time_features(_ts(2026, 1, 6, 23, 59, 59)))
    after = np.array(SPEC.time_features(_ts(2026, 1, 7, 0, 0, 0)))
    assert np.abs(before - after).max() < 0.01


def test_harmonics_are_fibonacci_periods_of_the_day() -> None:
    six = SPEC.time_features(_ts(2026, 1, 6, 6, 0))  # a quarter of the day
    for i, h in enumerate(DAY_HARMONICS):
        assert six[2 * i] == pytest.approx(math.sin(2 * math.pi * h / 4), abs=1e-9)
        assert six[2 * i + 1] == pytest.approx(math.cos(2 * math.pi * h / 4), abs=1e-9)
    assert [24 / h for h in DAY_HARMONICS] == [24, 12, 8, 4.8, 3]


def test_weekend_flag() -> None:
    assert SPEC.time_features(_ts(2026, 1, 10, 12, 0))[-1] == 1.0  # Saturday
    assert SPEC.time_features(_ts(2026, 1, 9, 12, 0))[-1] == 0.0  # Friday


def test_history_is_one_hot_per_position_with_start_padding() -> None:
    names = SPEC.names()
    row = SPEC.row(Moment("acme", ("smalltalk", "greeting.hello"), _ts(2026, 1, 7, 9, 0), turn=2, pace_s=30))
    on = {names[i] for i in np.flatnonzero(row) if names[i].startswith("prev")}
    assert on == {"prev1=smalltalk", "prev2=greeting.hello", f"prev3={START}"}


def test_an_intent_unseen_in_training_reads_as_no_history() -> None:
    names = SPEC.names()
    row = SPEC.row(Moment("acme", ("timer.set",), _ts(2026, 1, 7, 9, 0)))
    assert row[names.index(f"prev1={START}")] == 1.0


def test_tenant_one_hot_and_other() -> None:
    names = SPEC.names()
    known = SPEC.row(Moment("globex", (), _ts(2026, 1, 7, 9, 0)))
    unknown = SPEC.row(Moment("initech", (), _ts(2026, 1, 7, 9, 0)))
    assert known[names.index("tenant=globex")] == 1.0 and known[names.index("tenant=<other>")] == 0.0
    assert unknown[names.index("tenant=<other>")] == 1.0


def test_session_shape() -> None:
    names = SPEC.names()
    row = SPEC.row(Moment("acme", ("info.query",), _ts(2026, 1, 7, 9, 0), turn=40, pace_s=math.e - 1))
    assert row[names.index("turn")] == 1.0  # capped at 13 turns
    assert row[names.index("log_pace")] == pytest.approx(1.0)


def test_fit_takes_vocabularies_from_moments_and_targets() -> None:
    moments = [Moment("b", ("x",), 0.0), Moment("a", ("y", "x"), 0.0), Moment("b", (), 0.0)]
    spec = FeatureSpec.fit(moments, ["z"])
    assert spec.intents == ("x", "y", "z") and spec.tenants == ("a", "b")


def test_json_round_trip() -> None:
    assert FeatureSpec.from_json(SPEC.to_json()) == SPEC
