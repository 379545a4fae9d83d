"""The open loop of ``alice bench load`` against an in-process transport: it keeps its rate whatever the server
does, measures from the due time, sheds what exceeds its in-flight bound, and tells cache hits and routes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from alice.cli.loadgen import Asker, open_loop
from alice.cli.loadmath import step_result


def _asker(delay_s: float, hit: bool = False, status: int = 200) -> Asker:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(delay_s)
        headers = {"X-Route": "deep", "X-Cache": "hit" if hit else "miss", "X-Cache-Kind": "exact"}
        return httpx.Response(status, json={"response": "ok"}, headers=headers)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Asker(client, "http://alice.test/api/chat", "k", ["Vad är en fjord?"], timeout_s=1.0)


async def test_an_open_loop_sends_at_its_rate_and_measures_from_the_due_time() -> None:
    asker = _asker(0.05, hit=True)
    outcomes = await open_loop(asker, rate=40, duration_s=1.0, kind_of=lambda _i: "cached", max_in_flight=100)
    await asker.client.aclose()
    assert len(outcomes) == 40 and all(o.ok and o.cache_hit for o in outcomes)
    assert all(o.ms >= 50 for o in outcomes)
    assert [o.due_s for o in outcomes] == pytest.approx([i / 40 for i in range(40)])  # due on the rate's grid
    step = step_result(outcomes, 40)
    # the achieved rate depends on how busy the machine is; on a loaded one the sends may run late, not early
    assert 0 < step.achieved_rps <= 40 * 1.15
    assert asker.routes == {"cached": {"deep, exact hit": 40}}


async def test_what_exceeds_the_in_flight_bound_is_shed_and_counted_as_failed() -> None:
    asker = _asker(0.5)
    outcomes = await open_loop(asker, rate=20, duration_s=0.5, kind_of=lambda _i: "uncached", max_in_flight=4)
    await asker.client.aclose()
    assert len(outcomes) == 10
    assert sum(o.ok for o in outcomes) == 4 and sum(o.status == 0 for o in outcomes) == 6


async def test_a_request_past_its_timeout_is_an_error_not_a_hang() -> None:
    asker = _asker(5.0)
    outcomes = await asyncio.wait_for(
        open_loop(asker, rate=2, duration_s=1.0, kind_of=lambda _i: "uncached", max_in_flight=10), timeout=3
    )
    await asker.client.aclose()
    assert [o.status for o in outcomes] == [0, 0]


async def test_unique_questions_never_repeat_and_cached_ones_cycle() -> None:
    asker = _asker(0.0)
    asker.cached_questions = ["a", "b"]
    unique = {asker.question("uncached") for _ in range(50)}
    assert len(unique) == 50
    assert [asker.question("cached") for _ in range(3)] == ["a", "b", "a"]  # one counter for both kinds
    await asker.client.aclose()
