"""Load measurements for the scaler: calls to a downstream timed from the client side, and this process's CPU.

:class:`CallMeter` keeps the start, end and outcome of recent calls to one downstream service (the NLU, the LLM
servers) and the calls still in flight. Over a window it gives the request count and rate, the p95 and the busy
time: the seconds of calls overlapping the window, in-flight ones included, divided by the window — by Little's
law the mean number of requests the service was working on, which over its replicas and their slots is its
utilisation.

:class:`MeteredTransport` feeds a meter: it wraps the httpx transport of a client and times each exchange whose
path it counts, from sending the request to closing the response — so a streamed LLM answer counts until its
last byte. Health checks and model lists are not counted (``paths``).

:class:`CpuMeter` samples this process's CPU time (user + system, psutil) every few seconds; the CPU share over a
window is the CPU seconds used in it over the wall seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

import httpx
import psutil

from alice.samples import TimedSamples
from alice.slo import percentile

HORIZON_S = 900.0
MAX_CALLS = 50_000


@dataclass(frozen=True)
class CallStats:
    """A meter's view of one window."""

    requests: int
    failures: int
    rps: float
    p95_ms: float | None
    #: Mean number of calls in flight over the window (busy seconds / window seconds).
    busy: float
    #: Share of the window the meter has existed for (0..1).
    coverage: float


class CallMeter:
    """Recent calls to one downstream (see the module docstring). One event loop; no locking needed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, horizon_s: float = HORIZON_S) -> None:
        self._clock = clock
        self.horizon_s = horizon_s
        self.started_at = clock()
        self._done = TimedSamples(MAX_CALLS)  # (start, end, ok)
        self._open: dict[int, float] = {}
        self._ids = itertools.count()

    def start(self) -> int:
        """A call begins; pass the token to :meth:`finish`."""
        token = next(self._ids)
        self._open[token] = self._clock()
        return token

    def finish(self, token: int, ok: bool) -> None:
        """A call ended (``ok``: it got an answer that was not a server error)."""
        started = self._open.pop(token, None)
        if started is None:
            return
        now = self._clock()
        self._done.append(started, now, ok)
        while self._done and self._done.first()[1] < now - self.horizon_s:
            self._done.popleft()

    def stats(self, window_s: float) -> CallStats:
        """Requests finished in the last ``window_s``, their p95, and the busy share (in-flight calls included)."""
        now = self._clock()
        since = now - window_s
        observed = max(1e-9, min(window_s, now - self.started_at))
        busy_s = 0.0
        durations: list[float] = []
        failures = 0
        for start, end, ok in self._done:
            if end < since:
                continue
            busy_s += end - max(start, since)
            durations.append((end - start) * 1000)
            failures += not ok
        busy_s += sum(now - max(start, since) for start in self._open.values())
        durations.sort()
        return CallStats(
            requests=len(durations),
            failures=failures,
            rps=len(durations) / observed,
            p95_ms=percentile(durations, 95),
            busy=busy_s / observed,
            coverage=min(1.0, (now - self.started_at) / window_s),
        )


class _MeteredStream(httpx.AsyncByteStream):
    """A response body that tells the meter when it is closed (read to the end, or abandoned)."""

    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self._inner = inner
        self._done = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._done()


class MeteredTransport(httpx.AsyncBaseTransport):
    """An httpx transport that times the exchanges whose path ends with one of ``paths`` (so a server mounted under
    a prefix still counts) in ``meter``, to the response's end."""

    def __init__(self, inner: httpx.AsyncBaseTransport, meter: CallMeter, paths: Iterable[str]) -> None:
        self._inner = inner
        self.meter = meter
        self._paths = tuple(paths)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith(self._paths):
            return await self._inner.handle_async_request(request)
        token = self.meter.start()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self.meter.finish(token, ok=False)
            raise
        ok = response.status_code < 500
        closed = False

        def done() -> None:
            nonlocal closed
            if not closed:
                closed = True
                self.meter.finish(token, ok)

        stream = response.stream
        if not isinstance(stream, httpx.AsyncByteStream):  # every async transport returns one; be safe
            done()
            return response
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_MeteredStream(stream, done),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def process_cpu_seconds() -> float:
    """User + system CPU seconds this process has used."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


class CpuMeter:
    """This process's CPU share over recent windows, from samples taken every ``interval_s`` by :meth:`run`."""

    def __init__(
        self,
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        cpu_seconds: Callable[[], float] = process_cpu_seconds,
        horizon_s: float = HORIZON_S,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._cpu_seconds = cpu_seconds
        self.horizon_s = horizon_s
        self.started_at = clock()
        self._samples: deque[tuple[float, float]] = deque()
        self.sample()

    def sample(self) -> None:
        """Record the CPU seconds used so far."""
        now = self._clock()
        self._samples.append((now, self._cpu_seconds()))
        while len(self._samples) > 2 and self._samples[1][0] < now - self.horizon_s:
            self._samples.popleft()

    def share(self, window_s: float) -> float | None:
        """CPU seconds per wall second over about the last ``window_s`` (1.0 = one core busy); None before two
        samples. Measured from the newest sample at least ``window_s`` old (or the oldest) to now."""
        now, cpu_now = self._clock(), self._cpu_seconds()
        since = now - window_s
        base = self._samples[0]
        for sample in self._samples:
            if sample[0] > since:
                break
            base = sample
        elapsed = now - base[0]
        if elapsed <= 0:
            return None
        return max(0.0, (cpu_now - base[1]) / elapsed)

    def coverage(self, window_s: float) -> float:
        return min(1.0, (self._clock() - self.started_at) / window_s)

    async def run(self) -> None:
        """Sample forever (a lifespan task)."""
        while True:
            await asyncio.sleep(self.interval_s)
            self.sample()
