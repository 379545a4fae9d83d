"""Brownout: the state machine with made-up samples, the sampler's reaction time, and the shedding step."""

from __future__ import annotations

import asyncio
import time

import pytest

from guardian.brownout import BROWNOUT, LoadState, OverloadedError, Sample, Sampler, ShedLoad, Thresholds
from guardian.keys import KeyRecord
from guardian.policy import GuardRequest

T = Thresholds(brownout_cpu=80, brownout_memory=90, emergency_cpu=95, emergency_memory=97, margin=10, hold_s=5)


def test_up_at_once_down_only_after_the_hold_below_the_exit_threshold() -> None:
    changes: list[tuple[str, str]] = []
    state = LoadState(T, lambda before, after, _s: changes.append((before, after)))
    assert state.observe(Sample(50, 40, 0.0)) == "normal"
    assert state.observe(Sample(81, 40, 1.0)) == "brownout"  # the first sample over enters
    assert state.observe(Sample(75, 40, 2.0)) == "brownout"  # under entry, not under exit (70): stays
    assert state.observe(Sample(60, 40, 3.0)) == "brownout"  # calm from 3.0
    assert state.observe(Sample(81, 40, 5.0)) == "brownout"  # a spike resets the calm
    for t in (6.0, 8.0, 10.0):
        assert state.observe(Sample(60, 40, t)) == "brownout"
    assert state.observe(Sample(60, 40, 11.0)) == "normal"  # calm for 5 s since 6.0
    assert state.observe(Sample(20, 98, 12.0)) == "emergency"  # memory alone, straight to the top
    for t in (13.0, 15.0, 17.9):
        assert state.observe(Sample(20, 80, t)) == "emergency"
    assert state.observe(Sample(20, 80, 18.0)) == "brownout"  # one level at a time (80 < 87: calm for 5 s)
    assert changes == [
        ("normal", "brownout"), ("brownout", "normal"), ("normal", "emergency"), ("emergency", "brownout"),
    ]  # fmt: skip
    view = state.view()
    assert view["state"] == "brownout" and view["memory_percent"] == 80 and view["thresholds"]["hold_s"] == 5


def test_emergency_steps_down_once_under_brownouts_entry() -> None:
    # exit of emergency: max(97 - 10, 90) = 90 memory; at 89 the machine would start in brownout, not emergency
    state = LoadState(T)
    state.observe(Sample(10, 98, 0.0))
    for t in (1.0, 3.0, 6.0):
        state.observe(Sample(10, 89, t))
    assert state.state == "brownout"


def test_the_sampler_enters_brownout_within_150_ms_of_the_crossing() -> None:
    crossed_at: list[float] = []

    def read() -> tuple[float, float]:
        if time.monotonic() >= start + 0.3:
            if not crossed_at:
                crossed_at.append(time.monotonic())
            return 99.0, 40.0
        return 10.0, 40.0

    async def run() -> float:
        state = LoadState(T)
        sampler = Sampler(state, 0.05, read)
        sampler.start()
        try:
            deadline = time.monotonic() + 5
            while state.state == "normal":
                assert time.monotonic() < deadline, "the sampler never entered brownout"
                await asyncio.sleep(0.005)
            return time.monotonic()
        finally:
            await sampler.stop()

    start = time.monotonic()
    entered = asyncio.run(run())
    # the crossing is first visible at the first reading after start + 0.3; the state follows that reading
    assert entered - (start + 0.3) <= 0.15


def _request(role: str) -> GuardRequest:
    key = KeyRecord(id="k1", hash="x", tenant="acme", role=role, created_at="2026-01-01T00:00:00Z")
    return GuardRequest("POST", "/api/chat", {}, key=key)


def test_shedding_by_state_and_role() -> None:
    state = LoadState(T)
    step = ShedLoad(state, retry_after_s=3)
    request = _request("user")
    asyncio.run(step(request))
    assert request.load == "normal"
    state.observe(Sample(85, 40, 1.0))
    asyncio.run(step(request))
    assert request.load == BROWNOUT and request.claims().load == BROWNOUT
    state.observe(Sample(99, 40, 2.0))
    with pytest.raises(OverloadedError) as refused:
        asyncio.run(step(_request("user")))
    assert refused.value.status == 503 and refused.value.retry_after == 3
    admin = _request("admin")
    asyncio.run(step(admin))  # administrators still get through, with the expensive routes shed
    assert admin.load == BROWNOUT
