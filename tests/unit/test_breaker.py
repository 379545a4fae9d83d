"""The kernel's circuit breaker on a made-up clock (pure logic: no dependency is called)."""

from __future__ import annotations

import asyncio

import pytest

from alice.breaker import BreakerPolicy, Breakers, BreakerState, CircuitBreaker
from alice.errors import CircuitOpenError, ValidationFailedError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **policy: int | float) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    changes: list[tuple[str, str]] = []
    made = CircuitBreaker(
        "nlu",
        BreakerPolicy(**policy),  # type: ignore[arg-type]
        clock=clock,
        open_time=lambda trips: float((1, 2, 3, 5, 8, 13)[min(trips, 6) - 1]),
        on_change=lambda _name, old, new: changes.append((old.value, new.value)),
        counts=lambda exc: not isinstance(exc, ValidationFailedError),
    )
    return made, changes


async def fail() -> None:
    raise ConnectionError("down")


async def ok() -> str:
    return "ok"


def test_consecutive_failures_open_it_and_an_open_breaker_refuses_at_once() -> None:
    clock = Clock()
    cb, changes = breaker(clock, consecutive=3)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            asyncio.run(cb.call(fail))
    assert cb.state is BreakerState.OPEN and changes == [("closed", "open")]
    with pytest.raises(CircuitOpenError) as refused:
        asyncio.run(cb.call(ok))
    assert refused.value.status == 503 and refused.value.retry_after == 1.0
    assert cb.view()["rejected_total"] == 1


def test_the_failure_rate_over_the_window_opens_it() -> None:
    clock = Clock()
    cb, _ = breaker(clock, window=10, min_calls=10, failure_rate=0.5, consecutive=100)
    for i in range(10):  # alternate: never two failures in a row, but half of the window failed
        if i % 2:
            with pytest.raises(ConnectionError):
                asyncio.run(cb.call(fail))
        else:
            asyncio.run(cb.call(ok))
    assert cb.state is BreakerState.OPEN


def test_open_times_step_along_fibonacci_and_reset_when_it_closes() -> None:
    clock = Clock()
    cb, changes = breaker(clock, consecutive=1, close_after=2)
    with pytest.raises(ConnectionError):
        asyncio.run(cb.call(fail))
    opened = []
    for _ in range(4):  # each failed trial opens it for the next Fibonacci time
        opened.append(cb.retry_after())
        clock.now += cb.retry_after()
        assert cb.state is BreakerState.HALF_OPEN
        with pytest.raises(ConnectionError):
            asyncio.run(cb.call(fail))
    assert opened == [1.0, 2.0, 3.0, 5.0]
    clock.now += cb.retry_after()
    assert asyncio.run(cb.call(ok)) == "ok"
    assert cb.state is BreakerState.HALF_OPEN  # one success of the two it needs
    asyncio.run(cb.call(ok))
    assert cb.state is BreakerState.CLOSED and changes[-1] == ("half_open", "closed")
    with pytest.raises(ConnectionError):
        asyncio.run(cb.call(fail))
    assert cb.retry_after() == 1.0  # a new outage starts from the first open time


def test_half_open_lets_only_its_trials_through() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive=1, half_open_calls=1)
    with pytest.raises(ConnectionError):
        asyncio.run(cb.call(fail))
    clock.now += 1
    cb.admit()  # the trial
    with pytest.raises(CircuitOpenError):
        cb.admit()  # a second caller while the trial is out
    cb.abandoned()  # the trial was cancelled: its slot is free again
    cb.admit()


def test_errors_that_do_not_count_leave_it_closed() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive=2)

    async def bad_request() -> None:
        raise ValidationFailedError("bad")

    for _ in range(5):
        with pytest.raises(ValidationFailedError):
            asyncio.run(cb.call(bad_request))
    assert cb.state is BreakerState.CLOSED and cb.view()["window_failures"] == 0


def test_a_cancelled_call_counts_as_nothing() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive=1)

    async def slow() -> None:
        await asyncio.sleep(10)

    async def cancel() -> None:
        task = asyncio.create_task(cb.call(slow))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel())
    assert cb.state is BreakerState.CLOSED


def test_guard_wraps_a_stream_and_the_registry_shows_every_breaker() -> None:
    clock = Clock()
    cb, _ = breaker(clock, consecutive=1)

    async def stream() -> list[int]:
        got = []
        async with cb.guard():
            for i in range(3):
                got.append(i)
        return got

    assert asyncio.run(stream()) == [0, 1, 2]
    registry = Breakers()
    registry.add(cb)
    with pytest.raises(ValueError, match="exists"):
        registry.add(cb)
    (view,) = registry.view()
    assert view["name"] == "nlu" and view["state"] == "closed" and view["window_calls"] == 1


def test_a_policy_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(window=5, min_calls=6)
    with pytest.raises(ValueError):
        BreakerPolicy(failure_rate=0)


def opened(**policy: int) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    """A breaker opened by one failure, on a clock that never moves (only health checks can close it)."""
    cb, changes = breaker(Clock(), consecutive=1, **policy)
    with pytest.raises(ConnectionError):
        asyncio.run(cb.call(fail))
    return cb, changes


async def until_closed(cb: CircuitBreaker, probing: asyncio.Task[None], limit_s: float = 2.0) -> None:
    """Wait (at most ``limit_s``) for the health checks to close ``cb``, then stop them."""
    for _ in range(int(limit_s / 0.01)):
        await asyncio.sleep(0.01)
        if cb.state is BreakerState.CLOSED:
            break
    probing.cancel()


def test_a_passing_health_check_closes_an_open_breaker_without_user_traffic() -> None:
    cb, changes = opened(close_after=2)
    assert cb.state is BreakerState.OPEN and cb.retry_after() == 1.0  # the made-up clock never moves
    healthy = {"now": False}
    checks: list[bool] = []

    async def check() -> bool:
        checks.append(healthy["now"])
        if not healthy["now"]:
            raise ConnectionError("still down")
        return True

    async def watch() -> None:
        task = asyncio.create_task(cb.probe_while_open(check, interval_s=0.01))
        await asyncio.sleep(0.05)
        assert cb.state is BreakerState.OPEN  # failed checks change nothing
        healthy["now"] = True
        await until_closed(cb, task, limit_s=1.0)

    asyncio.run(watch())
    assert cb.state is BreakerState.CLOSED
    assert changes[-2:] == [("open", "half_open"), ("half_open", "closed")]
    assert checks.count(True) == 2  # close_after passing checks, then the closed breaker is left alone


def test_health_checks_get_more_time_along_the_timeout_phases() -> None:
    cb, _ = opened(close_after=1)
    started: list[int] = []

    async def slow_check() -> bool:  # the dependency is back but answers in 30 ms
        started.append(len(started))
        await asyncio.sleep(0.03)
        return True

    async def watch() -> None:
        task = asyncio.create_task(cb.probe_while_open(slow_check, interval_s=0.005, timeouts_s=(0.01, 0.01, 0.1)))
        await until_closed(cb, task)

    asyncio.run(watch())
    assert cb.state is BreakerState.CLOSED
    assert len(started) == 3  # two checks cut off at 10 ms, the third allowed 100 ms passed
