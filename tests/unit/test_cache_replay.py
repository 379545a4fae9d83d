"""The replay behind ``alice bench cache``: topics from pairs, and tallies that follow the cache's rules."""

from __future__ import annotations

import numpy as np

from alice.cli.cachereplay import ReplayConfig, Workload, replay, topics_from_pairs
from orchestrator.cache.semantic import Question, SemanticMatcher
from orchestrator.cache.tiers import IntentRule, TierPolicy

TEXTS = ["vad kostar ett frimärke", "hur mycket kostar ett frimärke", "vad väger en elefant", "när öppnar banken"]


def _workload(intents: list[str] | None = None) -> Workload:
    vectors = np.eye(4, 8, dtype=np.float32)
    vectors[1] = vectors[0]  # the two stamp questions are paraphrases: same vector
    labels = intents or ["info.query"] * 4
    questions = tuple(Question(t, labels[i], (), vectors[i]) for i, t in enumerate(TEXTS))
    pairs = [(TEXTS[0], TEXTS[1], 1), (TEXTS[0], TEXTS[2], 0)]
    return Workload(questions, topics_from_pairs(TEXTS, pairs), vectors)


def test_label_one_pairs_share_a_topic_and_label_zero_pairs_do_not() -> None:
    topics = topics_from_pairs(TEXTS, [(TEXTS[0], TEXTS[1], 1), (TEXTS[0], TEXTS[2], 0)])
    assert topics[0] == topics[1] and len({int(t) for t in topics}) == 3


def test_replay_hits_repeats_and_paraphrases_and_never_serves_another_topic() -> None:
    config = ReplayConfig(requests=400, span_days=0.5, capacity=10, seed=3)
    result = replay(_workload(), {"flat": TierPolicy.from_hours([24])}, SemanticMatcher(), (), config)["flat"]
    # 3 topics over half a day with a 24 h TTL: only the first ask of each topic misses.
    assert result["hit_rate"] >= 0.99 - 3 / 400
    assert result["semantic_hit_rate"] > 0 and result["false_hit_share"] == 0.0
    assert result["mean_entries"] <= 3


def test_never_cached_intents_never_hit_and_capacity_bounds_memory() -> None:
    config = ReplayConfig(requests=300, span_days=0.5, capacity=1, seed=3)
    never = (IntentRule("info.query", None),)
    assert (
        replay(_workload(), {"t": TierPolicy.from_hours([24])}, SemanticMatcher(), never, config)["t"]["hit_rate"] == 0
    )
    bounded = replay(_workload(), {"t": TierPolicy.from_hours([24])}, SemanticMatcher(), (), config)["t"]
    assert bounded["mean_entries"] <= 1 and bounded["evictions"] > 0


def test_short_ttls_hit_less_than_long_ones_on_the_same_requests() -> None:
    config = ReplayConfig(requests=300, span_days=10, capacity=10, seed=5)
    policies = {"short": TierPolicy((60,)), "long": TierPolicy.from_hours([240])}
    result = replay(_workload(), policies, SemanticMatcher(), (), config)
    assert result["short"]["hit_rate"] < result["long"]["hit_rate"]
