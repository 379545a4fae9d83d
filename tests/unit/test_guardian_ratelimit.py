"""Rate-limit settings and the policy step, with a fake limiter (the Lua script runs on a real Redis in the
integration tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from alice.breaker import CircuitBreaker
from alice.errors import ConfigError, DependencyDownError, RateLimitedError
from guardian.keys import KeyRecord
from guardian.policy import GuardRequest
from guardian.ratelimit import Decision, Limit, LocalLimiter, RateLimit, parse_limit, parse_role_limits


def test_limits_parse() -> None:
    assert parse_limit("60/min") == Limit(60, 60) == parse_limit("60/60s") == parse_limit("60 / 1m")
    assert parse_limit("1000/h") == Limit(1000, 3600) and parse_limit("5/s") == Limit(5, 1)
    assert parse_limit("0") is None and parse_limit("") is None
    assert parse_role_limits("user=60/min, admin=0") == {"user": Limit(60, 60), "admin": None}
    for bad in ("sixty/min", "60/fortnight", "0/min", "60/0s", "60/", "60"):
        with pytest.raises(ConfigError):
            parse_limit(bad)
    with pytest.raises(ConfigError):
        parse_role_limits("user60/min")


class FakeLimiter:
    def __init__(self, decision: Decision | Exception) -> None:
        self.decision = decision
        self.seen: list[Sequence[tuple[str, Limit]]] = []

    async def hit(self, scopes: Sequence[tuple[str, Limit]]) -> Decision:
        self.seen.append(scopes)
        if isinstance(self.decision, Exception):
            raise self.decision
        return self.decision


def _request(role: str = "user") -> GuardRequest:
    key = KeyRecord(id="k1", hash="x", tenant="acme", role=role, created_at="2026-01-01T00:00:00Z")
    return GuardRequest("POST", "/api/chat", {}, key=key)


def test_the_step_counts_the_key_by_role_and_the_tenant_and_sets_the_headers() -> None:
    outcomes: list[str] = []
    limiter = FakeLimiter(Decision(True, 5, 3, 12.2))
    step = RateLimit(limiter, {"user": Limit(5, 60), "admin": None}, Limit(100, 60), outcomes.append)
    request = _request()
    asyncio.run(step(request))
    assert limiter.seen == [[("key:k1", Limit(5, 60)), ("tenant:acme", Limit(100, 60))]]
    assert request.response_headers == {"RateLimit-Limit": "5", "RateLimit-Remaining": "3", "RateLimit-Reset": "13"}
    asyncio.run(step(_request("admin")))  # admin: only the tenant's limit
    assert limiter.seen[-1] == [("tenant:acme", Limit(100, 60))]
    assert outcomes == ["admitted", "admitted"]


def test_a_refusal_is_429_with_retry_after_and_a_redis_failure_lets_the_request_through_when_open() -> None:
    outcomes: list[str] = []
    step = RateLimit(FakeLimiter(Decision(False, 5, 0, 7.5)), {"user": Limit(5, 60)}, None, outcomes.append)
    with pytest.raises(RateLimitedError) as refused:
        asyncio.run(step(_request()))
    assert refused.value.retry_after == 7.5 and refused.value.headers["RateLimit-Remaining"] == "0"
    down = RateLimit(
        FakeLimiter(ConnectionError("redis down")), {"user": Limit(5, 60)}, None, outcomes.append, fallback="open"
    )
    request = _request()
    asyncio.run(down(request))
    assert request.response_headers == {} and outcomes == ["limited", "unavailable"]
    nothing = RateLimit(FakeLimiter(Decision(True, 1, 0, 1)), {}, None)
    asyncio.run(nothing(_request()))
    assert nothing.limiter.seen == []  # type: ignore[attr-defined]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_local_limiter_counts_fixed_windows_in_every_scope_or_in_none() -> None:
    clock = Clock()
    local = LocalLimiter(clock)
    scopes = [("key:k1", Limit(2, 60)), ("tenant:acme", Limit(3, 60))]
    first, second = asyncio.run(local.hit(scopes)), asyncio.run(local.hit(scopes))
    assert (first.admitted, first.remaining, second.admitted, second.remaining) == (True, 1, True, 0)
    refused = asyncio.run(local.hit(scopes))
    assert not refused.admitted and refused.limit == 2 and 0 < refused.reset_s <= 60
    other_key = asyncio.run(local.hit([("key:k2", Limit(2, 60)), ("tenant:acme", Limit(3, 60))]))
    assert other_key.admitted and other_key.remaining == 0  # the tenant's third and last
    assert not asyncio.run(local.hit([("key:k3", Limit(2, 60)), ("tenant:acme", Limit(3, 60))])).admitted
    clock.now += 60  # the next window
    assert asyncio.run(local.hit(scopes)).admitted


def test_while_redis_is_down_the_local_fallback_limits_and_the_breaker_stops_asking_redis() -> None:
    outcomes: list[str] = []
    redis = FakeLimiter(ConnectionError("redis down"))
    breaker = CircuitBreaker("redis", clock=Clock())
    step = RateLimit(redis, {"user": Limit(3, 60)}, None, outcomes.append, breaker=breaker)
    admitted = refused = 0
    for _ in range(8):
        try:
            asyncio.run(step(_request()))
            admitted += 1
        except RateLimitedError:
            refused += 1
    assert (admitted, refused) == (3, 5)  # the same limit, counted in this process
    assert len(redis.seen) == 5 and breaker.state.value == "open"  # five failures opened it; then no more waits
    closed = RateLimit(FakeLimiter(ConnectionError("redis down")), {"user": Limit(3, 60)}, None, fallback="closed")
    with pytest.raises(DependencyDownError):
        asyncio.run(closed(_request()))
    with pytest.raises(ConfigError, match="fallback"):
        RateLimit(redis, {}, None, fallback="maybe")
