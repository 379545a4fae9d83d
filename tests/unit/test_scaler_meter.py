"""The scaler's measurements: calls timed to their last byte, busy share by Little's law, CPU share."""

from __future__ import annotations

import httpx
import pytest

from orchestrator.scaling.meter import CallMeter, CpuMeter, MeteredTransport


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_call_meter_counts_rate_p95_and_busy_share() -> None:
    clock = Clock()
    meter = CallMeter(clock)
    clock.now += 60  # watched a whole minute
    for duration in (0.1, 0.2, 0.3, 2.0):
        token = meter.start()
        clock.now += duration
        meter.finish(token, ok=duration < 1)
    stats = meter.stats(60)
    assert stats.requests == 4 and stats.failures == 1
    assert stats.rps == pytest.approx(4 / 60)
    assert stats.p95_ms == pytest.approx(2000)
    assert stats.busy == pytest.approx(2.6 / 60)
    assert stats.coverage == 1.0


def test_in_flight_calls_count_as_busy_and_old_ones_fall_out() -> None:
    clock = Clock()
    meter = CallMeter(clock)
    early = meter.start()
    clock.now += 10
    meter.finish(early, ok=True)
    meter.start()  # still running
    clock.now += 100
    stats = meter.stats(60)
    assert stats.requests == 0  # the finished call ended before the window
    assert stats.busy == pytest.approx(1.0)  # one call in flight for the whole window
    clock.now += 1000
    assert meter.stats(60).busy == pytest.approx(1.0)


def test_a_young_meter_scales_by_what_it_has_seen() -> None:
    clock = Clock()
    meter = CallMeter(clock)
    token = meter.start()
    clock.now += 5
    meter.finish(token, ok=True)
    clock.now += 5
    stats = meter.stats(60)
    assert stats.coverage == pytest.approx(10 / 60)
    assert stats.busy == pytest.approx(0.5) and stats.rps == pytest.approx(0.1)


def test_finishing_twice_or_unknown_tokens_is_ignored() -> None:
    meter = CallMeter()
    token = meter.start()
    meter.finish(token, ok=True)
    meter.finish(token, ok=False)
    meter.finish(12345, ok=False)
    assert meter.stats(60).requests == 1


def _answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/boom":
        raise httpx.ConnectError("refused", request=request)
    status = 503 if request.url.path == "/prefix/api/chat" else 200
    return httpx.Response(status, content=b"x" * 10_000)


async def test_metered_transport_times_counted_paths_until_the_body_is_closed() -> None:
    clock = Clock()
    meter = CallMeter(clock)
    transport = MeteredTransport(httpx.MockTransport(_answer), meter, ["/api/chat"])
    async with httpx.AsyncClient(transport=transport, base_url="http://llm") as client:
        assert (await client.get("/api/tags")).status_code == 200  # not a counted path
        async with client.stream("POST", "/api/chat") as response:
            clock.now += 3  # the body is still streaming: the call is in flight
            assert meter.stats(60).requests == 0 and meter.stats(60).busy > 0
            assert len(await response.aread()) == 10_000
        stats = meter.stats(60)
        assert stats.requests == 1 and stats.p95_ms == pytest.approx(3000) and stats.failures == 0
        await client.post("/prefix/api/chat")  # a server mounted under a prefix still counts
        await client.post("/api/chat/fail")  # another path: not counted
        assert meter.stats(60).requests == 2
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(transport=MeteredTransport(httpx.MockTransport(_answer), meter, ["/boom"])) as c:
            await c.get("http://llm/boom")
    assert meter.stats(60).requests == 3 and meter.stats(60).failures == 2  # the 503 and the refused connection


def test_cpu_meter_share_over_the_window() -> None:
    clock = Clock()
    used = {"cpu": 10.0}
    meter = CpuMeter(interval_s=5, clock=clock, cpu_seconds=lambda: used["cpu"])
    for _ in range(24):  # two minutes at half a core
        clock.now += 5
        used["cpu"] += 2.5
        meter.sample()
    assert meter.share(60) == pytest.approx(0.5)
    for _ in range(12):  # then a minute at a full core
        clock.now += 5
        used["cpu"] += 5
        meter.sample()
    assert meter.share(60) == pytest.approx(1.0)
    assert meter.share(180) == pytest.approx(120 / 180)  # 60 + 60 CPU seconds over three minutes
    assert meter.coverage(60) == 1.0


def test_cpu_meter_reads_this_process() -> None:
    meter = CpuMeter()
    total = sum(i * i for i in range(200_000))  # burn a little CPU
    assert total > 0
    share = meter.share(60)
    assert share is not None and share > 0
