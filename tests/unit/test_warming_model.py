"""The next-intent model: numpy prediction equal to scikit-learn's, stored without pickle, reloaded on change;
training with the seed's parameters beats the plain baseline where time of day decides."""

from __future__ import annotations

import os
import random
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from orchestrator.warming.features import Moment
from orchestrator.warming.forest import Forest
from orchestrator.warming.model import MODEL_FILE, ModelSource, WarmingModel
from orchestrator.warming.sessions import Event
from orchestrator.warming.training import ForestParams, NotEnoughDataError, train

START = datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Stockholm")).timestamp()


def _events(days: int = 30, seed: int = 3) -> list[Event]:
    """Sessions where the previous intent alone cannot tell the next: after a greeting, mornings ask about the
    weather and evenings make small talk; offices ask questions."""
    rng = random.Random(seed)
    events = []
    for day in range(days):
        for tenant, hours in (("home", (7, 20)), ("office", (10, 14))):
            for hour in hours:
                for n in range(3):
                    ts = START + day * 86400 + hour * 3600 + rng.uniform(0, 1800) + n * 2000
                    session = f"{tenant}-{day}-{hour}-{n}"
                    nxt = "info.query" if tenant == "office" else "weather.lookup" if hour < 12 else "smalltalk"
                    events.append(Event(ts, tenant, session, "greeting.hello"))
                    events.append(Event(ts + 40, tenant, session, nxt))
    return events


def test_numpy_forest_predicts_what_sklearn_predicts() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 9))
    y = np.where(x[:, 0] + x[:, 4] > 0.3, "a", np.where(x[:, 2] > 0.5, "b", "c"))
    fitted = ForestParams().build().fit(x, y)
    probe = rng.normal(size=(300, 9))
    assert np.abs(Forest.from_sklearn(fitted).predict_proba(probe) - fitted.predict_proba(probe)).max() < 1e-12


def test_training_uses_the_seed_parameters() -> None:
    params = ForestParams()
    built = params.build()
    assert (built.n_estimators, built.max_depth, built.min_samples_split, built.min_samples_leaf) == (55, 8, 3, 1)
    assert built.max_features == pytest.approx(0.618, abs=1e-3) and built.class_weight == "balanced"


def test_the_forest_beats_the_transition_baseline_when_time_and_tenant_decide() -> None:
    model, report = train(_events())
    held = report["held_out"]
    assert held["rows"] > 20
    assert held["forest"]["top1"] >= 0.95
    assert held["transition_baseline"]["top1"] <= 0.6  # after a greeting, three next intents are equally common
    assert held["forest"]["top3"] >= held["transition_baseline"]["top3"]
    morning = model.top([Moment("home", ("greeting.hello",), START + 7 * 3600 + 600, 1, 0.0)], 1)[0][0][0]
    evening = model.top([Moment("home", ("greeting.hello",), START + 20 * 3600 + 600, 1, 0.0)], 1)[0][0][0]
    office = model.top([Moment("office", ("greeting.hello",), START + 10 * 3600 + 600, 1, 0.0)], 1)[0][0][0]
    assert (morning, evening, office) == ("weather.lookup", "smalltalk", "info.query")


def test_too_little_telemetry_is_refused_clearly() -> None:
    with pytest.raises(NotEnoughDataError, match="training needs at least 20"):
        train(_events(days=1)[:8])


def test_save_and_load_round_trip_without_pickle(tmp_path: Path) -> None:
    model, _report = train(_events(days=10))
    path = model.save(tmp_path)
    with np.load(path, allow_pickle=False) as saved:
        assert all(saved[name].dtype != object for name in saved.files)
    loaded = WarmingModel.load(path)
    moments = [Moment("home", ("greeting.hello",), START + h * 3600, 1, 0.0) for h in range(24)]
    assert loaded.classes == model.classes and loaded.spec == model.spec
    assert np.array_equal(loaded.predict(moments), model.predict(moments))
    assert loaded.info["rows"] == model.info["rows"]


def test_model_source_reloads_a_new_file_and_survives_a_broken_one(tmp_path: Path) -> None:
    source = ModelSource(tmp_path)
    assert source.current() is None
    first, _ = train(_events(days=10))
    first.save(tmp_path)
    loaded = source.current()
    assert loaded is not None and source.current() is loaded  # unchanged file: not read again
    second, _ = train(_events(days=12))
    path = second.save(tmp_path)
    os.utime(path, ns=(1, 1))  # a distinct stamp even on a coarse clock
    reloaded = source.current()
    assert reloaded is not None and reloaded is not loaded and reloaded.info["rows"] == second.info["rows"]
    (tmp_path / MODEL_FILE).write_bytes(b"not a model")
    assert source.current() is None
