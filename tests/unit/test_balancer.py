"""The φ load balancer's picking and failover (pure logic: stand-in adapters, no server)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from alice.breaker import BreakerState, CircuitBreaker
from alice.errors import DependencyDownError, ValidationFailedError
from alice.fibonacci import PHI, PHI_INVERSE, load_fibonacci_config, phi_weights
from orchestrator.balancer import Backend, BalancedLlm, smooth_pick
from orchestrator.llm import LlmAnswer


class StandIn:
    """What the balancer needs of an OllamaLlm: complete, stream, ping, and a breaker."""

    def __init__(self, name: str, failure: Exception | None = None) -> None:
        self.name = name
        self.failure = failure
        self.breaker = CircuitBreaker(name)
        self.calls = 0

    async def complete(self, *_args: Any, **_kwargs: Any) -> LlmAnswer:
        self.calls += 1
        async with self.breaker.guard():
            if self.failure is not None:
                raise self.failure
            return LlmAnswer(text=self.name)

    async def ping(self) -> bool:
        return self.failure is None


def backends(*weights: float, failures: dict[int, Exception] | None = None) -> list[Backend]:
    failures = failures or {}
    return [Backend(f"b{i}", StandIn(f"b{i}", failures.get(i)), w) for i, w in enumerate(weights)]  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_phi_weights_give_their_shares_over_10k_picks(n: int) -> None:
    weights = phi_weights(n, load_fibonacci_config())
    pool = backends(*weights)
    for _ in range(10_000):
        smooth_pick(pool)
    for backend, weight in zip(pool, weights, strict=True):
        assert abs(backend.picks / 10_000 - weight / sum(weights)) < 0.002
    assert weights[:2] == [PHI, PHI_INVERSE]


def test_picks_interleave_instead_of_bursting() -> None:
    pool = backends(PHI, PHI_INVERSE)
    share = PHI / (PHI + PHI_INVERSE)
    order = [smooth_pick(pool).host for _ in range(200)]
    assert "b1,b1" not in ",".join(order)  # the lighter backend never gets two in a row
    for n in range(1, 201):  # every prefix is within one pick of its share, not only the total
        assert abs(order[:n].count("b0") - n * share) <= 1


def test_an_open_breaker_is_skipped_and_a_failing_backend_hands_over() -> None:
    down = DependencyDownError("Språkmodellen är inte tillgänglig just nu.")
    pool = backends(PHI, PHI_INVERSE, failures={0: down})
    balancer = BalancedLlm(pool, "m")
    answers = [asyncio.run(balancer.complete([], 8, 0.3)).text for _ in range(10)]
    assert answers == ["b1"] * 10  # every call answered, by the healthy backend
    primary = pool[0].llm
    assert primary.breaker.state is BreakerState.OPEN  # type: ignore[attr-defined]
    assert primary.calls == 5  # five failures opened it; then it was skipped


def test_a_callers_error_is_not_retried_elsewhere_and_all_down_is_the_last_error() -> None:
    bad = ValidationFailedError("bad format")
    pool = backends(1.0, 1.0, failures={0: bad, 1: bad})
    with pytest.raises(ValidationFailedError):
        asyncio.run(BalancedLlm(pool, "m").complete([], 8, 0.3))
    assert sum(b.llm.calls for b in pool) == 1  # type: ignore[attr-defined]
    down = DependencyDownError("down")
    dead = backends(1.0, 1.0, failures={0: down, 1: down})
    with pytest.raises(DependencyDownError):
        asyncio.run(BalancedLlm(dead, "m").complete([], 8, 0.3))
    assert sum(b.llm.calls for b in dead) == 2  # each tried once


def test_the_view_shows_weights_expected_and_observed_shares() -> None:
    pool = backends(PHI, PHI_INVERSE)
    balancer = BalancedLlm(pool, "m")
    for _ in range(100):
        balancer.pick()
    view = balancer.view()
    assert [b["expected_share"] for b in view["backends"]] == [0.7236, 0.2764]
    assert [b["picks"] for b in view["backends"]] == [72, 28] or [b["picks"] for b in view["backends"]] == [73, 27]
    assert all(b["breaker"] == "closed" for b in view["backends"])
