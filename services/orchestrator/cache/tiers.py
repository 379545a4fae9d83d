"""How long a cached answer lives: Fibonacci tiers L1…L10, climbed by hits and age (DESIGN §5).

A new answer starts in L1 (TTL 1 h). It expires its tier's TTL after it *entered* the tier: hits alone do
not extend it, so no answer outlives its tier's TTL unchecked. It climbs to the next tier (and its clock
restarts with the longer TTL) when, since it entered its current tier, it has been hit at least ``F(tier)``
times (1, 2, 3, 5, 8, …) and has lived at least ``min_age_fraction`` (1 − φ⁻¹ ≈ 0.382) of that tier's TTL.
A thumbs-down removes it altogether (the cache does that, not this module). Volatile intents never climb:
they get a short fixed TTL, or are never stored. A flat policy (one TTL) is the classic cache: expiry a fixed
time after the write.

Pure policy with an explicit clock: :func:`alice.cli.cachereplay` replays the same workload through this
policy and through a flat TTL to measure what the tiers buy.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from alice.fibonacci import FIBONACCI_SEQUENCE, PHI_INVERSE_COMPLEMENT

HOUR_S = 3600


@dataclass(frozen=True)
class TierState:
    """What the policy needs to know about an entry: its tier, hits since it entered it, and when it did."""

    tier: int
    hits_in_tier: int
    tier_since: float


@dataclass(frozen=True)
class TierPolicy:
    """The Fibonacci tiers (``ttls_s``), or a flat TTL when it holds a single number."""

    ttls_s: tuple[int, ...]
    min_age_fraction: float = PHI_INVERSE_COMPLEMENT

    @classmethod
    def from_hours(
        cls, hours: list[int] | tuple[int, ...], min_age_fraction: float = PHI_INVERSE_COMPLEMENT
    ) -> TierPolicy:
        """Tiers from hours (``FIB_CACHE_TTLS_H``: 1, 2, 3, 5, …, 89)."""
        if not hours or any(h <= 0 for h in hours):
            raise ValueError("tier TTLs must be positive hours")
        return cls(tuple(int(h * HOUR_S) for h in hours), min_age_fraction)

    @property
    def top(self) -> int:
        """The highest tier (L10 with the default TTLs)."""
        return len(self.ttls_s)

    def ttl(self, tier: int) -> int:
        """TTL in seconds of ``tier`` (1-based, clamped to the tiers)."""
        return self.ttls_s[max(1, min(tier, self.top)) - 1]

    @staticmethod
    def hits_to_climb(tier: int) -> int:
        """Hits needed in ``tier`` to climb out of it: F(tier + 1) = 1, 2, 3, 5, 8, …"""
        return FIBONACCI_SEQUENCE[min(tier, len(FIBONACCI_SEQUENCE) - 1)]

    def expires(self, state: TierState) -> float:
        """When an entry in ``state`` expires: its tier's TTL after it entered the tier."""
        return state.tier_since + self.ttl(state.tier)

    def start(self, now: float) -> TierState:
        """A new entry: L1, no hits."""
        return TierState(tier=1, hits_in_tier=0, tier_since=now)

    def on_hit(self, state: TierState, now: float) -> TierState:
        """The state after one more hit at ``now`` (it climbs one tier at most)."""
        hits = state.hits_in_tier + 1
        age = now - state.tier_since
        if (
            state.tier < self.top
            and hits >= self.hits_to_climb(state.tier)
            and age >= self.min_age_fraction * self.ttl(state.tier)
        ):
            return TierState(tier=state.tier + 1, hits_in_tier=0, tier_since=now)
        return TierState(tier=state.tier, hits_in_tier=hits, tier_since=state.tier_since)


@dataclass(frozen=True)
class IntentRule:
    """Per-intent caching: never store (``ttl_s`` None) or a fixed short TTL that never climbs."""

    pattern: str
    ttl_s: int | None

    def matches(self, intent: str | None) -> bool:
        """True for an intent the rule's glob names (``timer.*``)."""
        return intent is not None and fnmatch.fnmatchcase(intent, self.pattern)


def parse_intent_rules(never: str, volatile: str) -> tuple[IntentRule, ...]:
    """Rules from settings: ``never`` = "time.now,timer.*"; ``volatile`` = "weather.lookup=600,…" (seconds)."""
    rules = [IntentRule(p.strip(), None) for p in never.split(",") if p.strip()]
    for item in (v.strip() for v in volatile.split(",") if v.strip()):
        pattern, sep, seconds = item.partition("=")
        if not sep or not seconds.strip().isdigit() or int(seconds) <= 0:
            raise ValueError(f"volatile intent rule {item!r} must look like 'weather.lookup=600'")
        rules.append(IntentRule(pattern.strip(), int(seconds)))
    return tuple(rules)


def rule_for(rules: tuple[IntentRule, ...], intent: str | None) -> IntentRule | None:
    """The first rule naming ``intent`` (never-rules come first), or None for an ordinary cacheable intent."""
    return next((r for r in rules if r.matches(intent)), None)
