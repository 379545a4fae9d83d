"""TimedSamples behaves as a bounded deque of (float, float, bool), in a fraction of the memory."""

from __future__ import annotations

import random
import tracemalloc
from collections import deque

import pytest

from alice.samples import TimedSamples


def test_it_matches_a_bounded_deque_through_random_appends_and_pops() -> None:
    rng = random.Random(7)
    for maxlen in (1, 2, 5, 64):
        ours, model = TimedSamples(maxlen), deque(maxlen=maxlen)
        for step in range(3000):
            if model and rng.random() < 0.35:
                assert ours.first() == model[0]
                ours.popleft()
                model.popleft()
            else:
                record = (float(step), rng.random(), rng.random() < 0.5)
                ours.append(*record)
                model.append(record)
            assert len(ours) == len(model) and bool(ours) == bool(model)
            assert list(ours) == list(model)


def test_empty_and_bad_sizes() -> None:
    empty = TimedSamples(3)
    assert list(empty) == [] and not empty
    with pytest.raises(IndexError):
        empty.first()
    with pytest.raises(IndexError):
        empty.popleft()
    with pytest.raises(ValueError, match="maxlen"):
        TimedSamples(0)


def test_a_record_costs_tens_of_bytes_not_a_hundred() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        samples = TimedSamples(20_000)
        for i in range(20_000):
            samples.append(1e9 + i, 12.5 + i % 7, i % 3 != 0)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert used / 20_000 < 30  # 17 B of data, plus the arrays' growth headroom
