"""One asyncio circuit breaker for every dependency a service calls (the NLU, the LLM, the weather API).

States (DESIGN §5)::

    closed     calls go through; each outcome is recorded in a sliding window of the last ``window`` calls.
               It trips when ``consecutive`` calls in a row failed, or when at least ``min_calls`` are in the
               window and their failure rate reaches ``failure_rate``.
    open       calls fail at once with :class:`~alice.errors.CircuitOpenError` (503 + ``Retry-After``) for the
               open time of this trip: 1, 2, 3, 5, 8, 13 s (``FIB_BREAKER_OPEN_S``), longer each time a trial
               fails, back to the first once the breaker closes.
    half_open  after the open time, up to ``half_open_calls`` trial calls at a time go through; ``close_after``
               successes close the breaker, one failure opens it again (with the next open time).

A breaker may also be given a cheap health check (:meth:`CircuitBreaker.probe_while_open`, run as a task): while
it is not closed, the check runs every second, and each one that passes counts as a successful trial, so a
dependency that is back closes its breaker within ``close_after`` seconds instead of waiting out an open time of
up to 13 s and then on user traffic. A failed check changes nothing (it neither opens nor extends).

Which errors count is the caller's choice (``counts``): a dependency that is down or too slow, not a caller's
bad request. A call abandoned by its caller (cancelled) counts as nothing. ``on_change`` hears every
transition (metrics, logs); :meth:`CircuitBreaker.view` is what ``/api/monitoring/circuit-breakers`` shows.
The state is per process unless shared (:class:`SharedState`, ``ALICE_BREAKER_SHARED=true``): then a replica
that opens a breaker writes the opening to Redis, and the others adopt it within a second instead of each paying
its own five failures. Closing stays local (each replica's trials and health checks).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from alice.errors import CircuitOpenError, ServiceError
from alice.fibonacci import config, get_breaker_open_time

if TYPE_CHECKING:
    from alice.metrics import BreakerMetrics

log = structlog.get_logger("alice.breaker")

T = TypeVar("T")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


#: For a gauge: closed 0, half-open 1, open 2.
STATE_VALUES: dict[BreakerState, int] = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True)
class BreakerPolicy:
    """When a breaker trips and how it closes again."""

    window: int = 20
    min_calls: int = 10
    failure_rate: float = 0.5
    consecutive: int = 5
    half_open_calls: int = 1
    close_after: int = 2

    def __post_init__(self) -> None:
        if not (1 <= self.min_calls <= self.window) or self.consecutive < 1:
            raise ValueError("breaker policy: need 1 <= min_calls <= window and consecutive >= 1")
        if not 0 < self.failure_rate <= 1 or self.half_open_calls < 1 or self.close_after < 1:
            raise ValueError("breaker policy: need 0 < failure_rate <= 1, half_open_calls >= 1, close_after >= 1")


def _always(_exc: BaseException) -> bool:
    return True


def dependency_failure(exc: BaseException) -> bool:
    """Whether an error says the dependency failed: a 5xx :class:`~alice.errors.ServiceError` (down, timed out,
    a broken answer) or any other exception; a caller's own error (4xx) does not count."""
    return not isinstance(exc, ServiceError) or exc.status >= 500


class CircuitBreaker:
    """See the module docstring. Not thread-safe: use it from one event loop."""

    def __init__(
        self,
        name: str,
        policy: BreakerPolicy | None = None,
        *,
        what: str | None = None,
        open_detail: str | None = None,
        counts: Callable[[BaseException], bool] = _always,
        clock: Callable[[], float] = time.monotonic,
        open_time: Callable[[int], float] = get_breaker_open_time,
        on_change: Callable[[str, BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self.name = name
        self.policy = policy or BreakerPolicy()
        self.what = what or name
        self.open_detail = open_detail
        self.counts = counts
        self._clock = clock
        self._open_time = open_time
        self.on_change = on_change
        self._state = BreakerState.CLOSED
        self._outcomes: deque[bool] = deque(maxlen=self.policy.window)  # True = failed
        self._consecutive = 0
        self._trips = 0  # opens since the breaker last closed: picks the open time
        self._open_until = 0.0
        self._trials = 0  # trial calls in flight while half-open
        self._trial_successes = 0
        self._opened_at: float | None = None
        self.rejected = 0
        self.opened_total = 0

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose time is up is half-open)."""
        if self._state is BreakerState.OPEN and self._clock() >= self._open_until:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    @property
    def trips(self) -> int:
        """Openings since the breaker last closed (they pick the open time)."""
        return self._trips

    def retry_after(self) -> float:
        """Seconds until an open breaker lets a trial through (0 when not open)."""
        return max(0.0, self._open_until - self._clock()) if self.state is BreakerState.OPEN else 0.0

    def admit(self) -> None:
        """Let one call through, or raise :class:`CircuitOpenError`; pair every admitted call with
        :meth:`succeeded`, :meth:`failed` or :meth:`abandoned`."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and self._trials < self.policy.half_open_calls:
            self._trials += 1
            return
        self.rejected += 1
        wait = self.retry_after() or self._open_time(max(1, self._trips))
        raise CircuitOpenError(
            self.open_detail or f"{self.what} is unavailable (circuit open); retrying it in {wait:.0f} s.",
            retry_after=max(1.0, wait),
        )

    def succeeded(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._trials = max(0, self._trials - 1)
            self._trial_successes += 1
            if self._trial_successes >= self.policy.close_after:
                self._close()
            return
        self._record(failed=False)

    def failed(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._trials = max(0, self._trials - 1)
            self._open()
            return
        if self._state is BreakerState.OPEN:
            return  # a call admitted before the breaker opened
        self._record(failed=True)
        if self._consecutive >= self.policy.consecutive or self._rate_tripped():
            self._open()

    def abandoned(self) -> None:
        """An admitted call that ended without an outcome (cancelled): frees its trial slot."""
        if self._state is BreakerState.HALF_OPEN:
            self._trials = max(0, self._trials - 1)

    def outcome(self, exc: BaseException | None) -> None:
        """Record how an admitted call ended: no exception, an exception that counts, or one that does not."""
        if exc is None:
            self.succeeded()
        elif self.counts(exc):
            self.failed()
        else:
            self._neutral()

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``await fn(*args, **kwargs)`` through the breaker."""
        async with self.guard():
            return await fn(*args, **kwargs)

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """The block inside is one call through the breaker (for calls that are not one awaitable: streams)."""
        self.admit()
        try:
            yield
        except (asyncio.CancelledError, GeneratorExit):
            self.abandoned()
            raise
        except BaseException as exc:
            self.outcome(exc)
            raise
        self.succeeded()

    async def probe_while_open(
        self,
        check: Callable[[], Awaitable[object]],
        interval_s: float = 1.0,
        timeouts_s: Sequence[float] | None = None,
    ) -> None:
        """Run forever (as a task): while the breaker is open or half-open, ``check()`` every ``interval_s``; one
        that returns (anything but False) in time counts as a successful trial. The time allowed steps along the
        timeout phases (``FIB_TIMEOUT_PHASES``: 1, 2, 5, 8 s) with each check that failed in a row, so a
        dependency that is back but slow (loading a model) is not failed at 1 s forever."""
        phases = list(timeouts_s or config().fib_timeout_phases)
        failed = 0
        while True:
            await asyncio.sleep(interval_s)
            if self._state is BreakerState.CLOSED:
                failed = 0
                continue
            try:
                async with asyncio.timeout(phases[min(failed, len(phases) - 1)]):
                    passed = await check()
            except Exception as exc:  # noqa: BLE001 - a failed check is only a failed check
                failed += 1
                log.debug("breaker_probe_failed", breaker=self.name, error_type=type(exc).__name__)
                continue
            if passed is False:
                failed += 1
                continue
            failed = 0
            self._probe_passed()

    def _probe_passed(self) -> None:
        if self._state is BreakerState.CLOSED:
            return
        if self._state is BreakerState.OPEN:
            self._open_until = self._clock()
            self._trials = 0
            self._move(BreakerState.HALF_OPEN)
        self._trial_successes += 1
        if self._trial_successes >= self.policy.close_after:
            self._close()

    def view(self) -> dict[str, Any]:
        """What the monitoring endpoint shows."""
        state = self.state
        failures = sum(self._outcomes)
        return {
            "name": self.name,
            "state": state.value,
            "window_calls": len(self._outcomes),
            "window_failures": failures,
            "consecutive_failures": self._consecutive,
            "trips": self.trips,
            "opened_total": self.opened_total,
            "rejected_total": self.rejected,
            "retry_after_s": round(self.retry_after(), 3),
            "open_for_s": round(self._clock() - self._opened_at, 3) if self._opened_at is not None else None,
        }

    def adopt_open(self, remaining_s: float, trips: int) -> None:
        """Another replica opened this breaker: open it here too for the ``remaining_s`` of its open time."""
        if self._state is not BreakerState.CLOSED or remaining_s <= 0:
            return
        self._trips = max(self._trips, trips)
        now = self._clock()
        self._open_until = now + remaining_s
        self._opened_at = now
        self._trials = 0
        self._trial_successes = 0
        self.opened_total += 1
        self._move(BreakerState.OPEN)
        log.warning("breaker_opened_elsewhere", breaker=self.name, trips=trips, open_s=round(remaining_s, 3))

    def _neutral(self) -> None:
        """A call that failed for a reason that says nothing about the dependency (a caller's error)."""
        if self._state is BreakerState.HALF_OPEN:
            self._trials = max(0, self._trials - 1)
        else:
            self._record(failed=False)

    def _record(self, *, failed: bool) -> None:
        self._outcomes.append(failed)
        self._consecutive = self._consecutive + 1 if failed else 0

    def _rate_tripped(self) -> bool:
        n = len(self._outcomes)
        return n >= self.policy.min_calls and sum(self._outcomes) / n >= self.policy.failure_rate

    def _open(self) -> None:
        self._trips += 1
        now = self._clock()
        self._open_until = now + self._open_time(self._trips)
        if self._opened_at is None:
            self._opened_at = now
        self.opened_total += 1
        self._trials = 0
        self._trial_successes = 0
        self._move(BreakerState.OPEN)
        log.warning(
            "breaker_opened",
            breaker=self.name,
            trips=self._trips,
            open_s=round(self._open_until - now, 3),
            consecutive_failures=self._consecutive,
        )

    def _close(self) -> None:
        outage = self._clock() - self._opened_at if self._opened_at is not None else 0.0
        self._trips = 0
        self._trials = 0
        self._trial_successes = 0
        self._consecutive = 0
        self._outcomes.clear()
        self._opened_at = None
        self._move(BreakerState.CLOSED)
        log.warning("breaker_closed", breaker=self.name, outage_s=round(outage, 3))

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if old is not new and self.on_change is not None:
            self.on_change(self.name, old, new)


class Breakers:
    """The breakers of one service, by name, for the monitoring endpoint; with ``metrics``, each one added is
    shown (closed) at once and its transitions are counted."""

    def __init__(self, metrics: BreakerMetrics | None = None) -> None:
        self._all: dict[str, CircuitBreaker] = {}
        self._metrics = metrics

    def add(self, breaker: CircuitBreaker) -> CircuitBreaker:
        if breaker.name in self._all:
            raise ValueError(f"breaker {breaker.name!r} exists")
        if self._metrics is not None:
            self._metrics.watch(breaker.name)
            breaker.on_change = self._metrics.changed
        self._all[breaker.name] = breaker
        return breaker

    def __iter__(self) -> Iterator[CircuitBreaker]:
        return iter(list(self._all.values()))

    def view(self) -> list[dict[str, Any]]:
        return [b.view() for b in self._all.values()]


def start_probe(
    stack: AsyncExitStack, breaker: CircuitBreaker, check: Callable[[], Awaitable[object]]
) -> asyncio.Task[None]:
    """:meth:`CircuitBreaker.probe_while_open` as a task that ``stack`` cancels on shutdown."""
    return in_background(stack, breaker.probe_while_open(check), f"breaker-probe-{breaker.name}")


def in_background(stack: AsyncExitStack, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """``work`` as a task that ``stack`` cancels (and waits for) on shutdown."""
    task = asyncio.create_task(work, name=name)

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
    return task


class SharedState:
    """Shares a breaker's openings between replicas through Redis (key ``alice:breaker:<name>``, expiring with
    the open time). :meth:`run` is a task: every ``interval_s`` it publishes an opening of this replica's breaker
    and adopts one published by another replica. A Redis failure only skips a round."""

    def __init__(self, redis: Any, breaker: CircuitBreaker, interval_s: float = 1.0, prefix: str = "alice:breaker:"):
        self.redis = redis
        self.breaker = breaker
        self.interval_s = interval_s
        self.key = prefix + breaker.name
        self._published = breaker.opened_total

    async def sync(self) -> None:
        """One round: publish a new local opening, else adopt a shared one."""
        b = self.breaker
        if b.opened_total != self._published and b.state is BreakerState.OPEN:
            self._published = b.opened_total
            remaining_ms = int(b.retry_after() * 1000)
            if remaining_ms > 0:
                await self.redis.set(self.key, str(b.trips), px=remaining_ms)
            return
        if b.state is BreakerState.CLOSED:
            raw, ttl_ms = await self.redis.get(self.key), await self.redis.pttl(self.key)
            if raw is not None and ttl_ms and ttl_ms > 0:
                b.adopt_open(ttl_ms / 1000, int(raw))
                self._published = b.opened_total  # adopted, not ours to publish again

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.sync()
            except Exception as exc:  # noqa: BLE001 - sharing is best effort; the local breaker still works
                log.debug("breaker_share_failed", breaker=self.breaker.name, error_type=type(exc).__name__)
