"""Fibonacci tiers: entries start at L1 and climb with hits and age; intent rules never cache or fix a TTL."""

from __future__ import annotations

import pytest

from orchestrator.cache.tiers import TierPolicy, TierState, parse_intent_rules, rule_for

POLICY = TierPolicy.from_hours([1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
H = 3600


def test_ttls_are_the_fibonacci_hours_and_clamp() -> None:
    assert [POLICY.ttl(t) // H for t in range(1, 11)] == [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    assert POLICY.ttl(0) == H and POLICY.ttl(99) == 89 * H and POLICY.top == 10


def test_a_hit_climbs_only_when_old_enough() -> None:
    state = POLICY.start(now=0.0)
    young = POLICY.on_hit(state, now=60.0)  # one hit, one minute old: L1 needs 0.382 h of age
    assert (young.tier, young.hits_in_tier) == (1, 1)
    old = POLICY.on_hit(young, now=0.4 * H)
    assert (old.tier, old.hits_in_tier, old.tier_since) == (2, 0, 0.4 * H)


def test_higher_tiers_need_more_hits() -> None:
    assert [TierPolicy.hits_to_climb(t) for t in range(1, 6)] == [1, 2, 3, 5, 8]
    state = TierState(tier=3, hits_in_tier=0, tier_since=0.0)
    now = 10 * H
    for _ in range(2):
        state = POLICY.on_hit(state, now)
        assert state.tier == 3
    assert POLICY.on_hit(state, now).tier == 4


def test_the_top_tier_is_the_ceiling() -> None:
    state = TierState(tier=10, hits_in_tier=100, tier_since=0.0)
    assert POLICY.on_hit(state, 1000 * H).tier == 10


def test_a_flat_policy_never_climbs() -> None:
    flat = TierPolicy.from_hours([24])
    state = flat.on_hit(flat.start(0.0), 100 * H)
    assert state.tier == 1 and flat.ttl(state.tier) == 24 * H


def test_intent_rules() -> None:
    rules = parse_intent_rules("time.now,timer.*", "weather.lookup=600")
    assert rule_for(rules, "timer.set") is not None and rule_for(rules, "timer.set").ttl_s is None  # type: ignore[union-attr]
    assert rule_for(rules, "time.now").ttl_s is None  # type: ignore[union-attr]
    assert rule_for(rules, "weather.lookup").ttl_s == 600  # type: ignore[union-attr]
    assert rule_for(rules, "info.query") is None and rule_for(rules, None) is None


@pytest.mark.parametrize("bad", ["weather.lookup", "weather.lookup=abc", "weather.lookup=0"])
def test_bad_volatile_rules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="weather.lookup=600"):
        parse_intent_rules("", bad)


def test_an_entry_expires_its_tier_ttl_after_entering_the_tier() -> None:
    state = POLICY.start(now=100.0)
    assert POLICY.expires(state) == 100.0 + H
    same = POLICY.on_hit(state, now=200.0)  # too young to climb: a hit does not extend it
    assert POLICY.expires(same) == 100.0 + H
    climbed = POLICY.on_hit(same, now=100.0 + 0.5 * H)
    assert POLICY.expires(climbed) == 100.0 + 0.5 * H + 2 * H
