"""The route policy: what answers, and the honest reason when the wanted route does not exist yet."""

from __future__ import annotations

import pytest

from orchestrator.router import Route, choose_route


@pytest.mark.parametrize(
    ("intent", "hint", "route", "reason"),
    [
        ("greeting.hello", "micro", "micro", "hint_micro"),
        ("smalltalk", "micro", "micro", "hint_micro"),
        ("info.query", "deep", "deep", "hint_deep"),
        ("time.now", "tool", "micro", "hint_tool:tool_unavailable"),
        ("out_of_scope", "planner", "deep", "hint_planner:planner_unavailable"),
        ("greeting.hello", None, "micro", "intent_micro"),
        ("info.query", None, "deep", "intent_deep"),
        ("something.new", None, "deep", "intent_unknown"),
        ("something.new", "bogus", "deep", "intent_unknown"),
        (None, None, "deep", "nlu_unavailable"),
    ],
)
def test_policy(intent: str | None, hint: str | None, route: str, reason: str) -> None:
    decision = choose_route(intent, hint)
    assert (decision.route, decision.reason) == (route, reason)


@pytest.mark.parametrize(
    ("forced", "route", "reason"),
    [
        ("micro", "micro", "forced"),
        ("deep", "deep", "forced"),
        ("tool", "micro", "forced:tool_unavailable"),
        ("planner", "deep", "forced:planner_unavailable"),
    ],
)
def test_force_route_wins_over_the_nlu_and_reports_what_answered(forced: Route, route: str, reason: str) -> None:
    decision = choose_route("greeting.hello", "micro", force_route=forced)
    assert (decision.route, decision.wanted, decision.reason) == (route, forced, reason)


def test_force_route_works_without_the_nlu() -> None:
    assert choose_route(None, None, force_route="micro").route == "micro"
