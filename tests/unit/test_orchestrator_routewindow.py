"""The micro share cap over the recent decisions (in-process window; the Redis one is tested in integration)."""

from __future__ import annotations

from orchestrator.routewindow import MIN_DECISIONS, RouteWindow


async def test_micro_is_capped_once_it_holds_its_share() -> None:
    window = RouteWindow(None, size=20, micro_max_share=0.5)
    for _ in range(MIN_DECISIONS - 1):
        await window.record("micro")
    assert await window.micro_allowed()  # too few decisions to enforce anything
    await window.record("micro")
    assert not await window.micro_allowed()
    for _ in range(10):
        await window.record("deep")
    assert not await window.micro_allowed()  # 10 of 20: still at the cap
    await window.record("tool")  # the oldest micro falls out of the window
    assert await window.micro_allowed()
    shares = await window.shares()
    assert shares["window"] == 20 and shares["shares"] == {"deep": 0.5, "micro": 0.45, "tool": 0.05}
    assert shares["shared"] is False


async def test_a_share_of_one_never_caps() -> None:
    window = RouteWindow(None, size=10, micro_max_share=1.0)
    for _ in range(30):
        await window.record("micro")
    assert await window.micro_allowed()


class BrokenRedis:
    async def lrange(self, *args: object) -> list[bytes]:
        raise ConnectionError("down")

    def pipeline(self, transaction: bool = False) -> object:
        raise ConnectionError("down")


async def test_a_failing_redis_falls_back_to_this_process() -> None:
    window = RouteWindow(BrokenRedis(), size=10, micro_max_share=0.5)
    for _ in range(10):
        await window.record("micro")
    assert not await window.micro_allowed()
    assert (await window.shares())["shared"] is False
