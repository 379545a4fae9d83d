"""What one warming run may spend, and which questions it warms first."""

from __future__ import annotations

import pytest

from orchestrator.cache.tiers import parse_intent_rules
from orchestrator.warming.budget import Budget, BudgetLimits
from orchestrator.warming.candidates import Pool, cacheable, plan_candidates, question_pools
from orchestrator.warming.features import Moment
from orchestrator.warming.sessions import Event

RULES = parse_intent_rules("time.now,timer.*,memory.*", "weather.lookup=600")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_budget_stops_at_the_warmup_limit() -> None:
    budget = Budget(BudgetLimits(warmups=2, seconds=60, candidates=10), Clock())
    budget.warmed()
    assert budget.stop_reason() is None
    budget.warmed()
    assert budget.stop_reason() == "warmups"


def test_budget_stops_after_its_seconds() -> None:
    clock = Clock()
    budget = Budget(BudgetLimits(warmups=5, seconds=13, candidates=10), clock)
    clock.now += 12.9
    assert budget.stop_reason() is None
    clock.now += 0.1
    assert budget.stop_reason() == "seconds" and budget.elapsed_s == pytest.approx(13)


def test_budget_stops_after_its_candidates_and_a_zero_budget_does_nothing() -> None:
    budget = Budget(BudgetLimits(warmups=5, seconds=13, candidates=2), Clock())
    budget.looked_at()
    budget.looked_at()
    assert budget.stop_reason() == "candidates"
    assert Budget(BudgetLimits(warmups=0), Clock()).stop_reason() == "warmups"


def test_cacheable_follows_the_cache_rules() -> None:
    assert cacheable(RULES, "info.query") and cacheable(RULES, "weather.lookup")  # volatile: cached briefly
    assert not cacheable(RULES, "timer.set") and not cacheable(RULES, "memory.store")
    assert not cacheable(RULES, "time.now") and not cacheable(RULES, None) and not cacheable(RULES, "none")


def test_question_pools_count_recent_questions_per_intent() -> None:
    events = [
        Event(1, "t", "s", "info.query", question="b"),
        Event(2, "t", "s", "info.query", question="a"),
        Event(3, "t", "s", "info.query", question="c"),
        Event(4, "t", "s", "info.query", question="c"),
        Event(5, "t", "s", "timer.set"),  # no text kept for actions
    ]
    pools = question_pools(events, per_intent=2)
    assert pools == {"info.query": Pool(total=4, top=(("c", 2), ("a", 1)))}


def test_plan_scores_expected_askers_and_orders_them() -> None:
    moments = [Moment("acme", ("greeting.hello",), 0.0), Moment("acme", ("smalltalk",), 0.0), Moment("beta", (), 0.0)]
    predictions = [
        [("info.query", 0.6), ("smalltalk", 0.3), ("timer.set", 0.1)],
        [("info.query", 0.5), ("smalltalk", 0.05)],
        [("info.query", 0.9)],
    ]
    pools = {
        "acme": {"info.query": Pool(4, (("q1", 3), ("q2", 1))), "smalltalk": Pool(2, (("s1", 2),))},
        "beta": {},
    }
    planned = plan_candidates(moments, predictions, pools, min_probability=0.1, warmable=["info.query", "smalltalk"])
    assert [(c.question, c.score) for c in planned] == [
        ("q1", pytest.approx((0.6 + 0.5) * 3 / 4)),  # both acme sessions may ask it
        ("s1", pytest.approx(0.3)),  # the second session's 0.05 is below the floor
        ("q2", pytest.approx((0.6 + 0.5) * 1 / 4)),
    ]
    assert {c.tenant for c in planned} == {"acme"} and planned[0].intent == "info.query"


def test_plan_leaves_out_intents_that_are_not_warmable() -> None:
    moments = [Moment("acme", (), 0.0)]
    pools = {"acme": {"timer.set": Pool(1, (("sätt en timer", 1),))}}
    assert plan_candidates(moments, [[("timer.set", 0.9)]], pools, 0.1, warmable=["info.query"]) == []
