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


def test_under_brownout_only_tools_and_micro_answer() -> None:
    from orchestrator.router import BROWNOUT, WITH_PLANNER

    tools = frozenset({"time.now"})
    assert choose_route("time.now", "tool", tools=tools, available=BROWNOUT).route == "tool"
    for intent, hint in (("info.query", "deep"), ("out_of_scope", "planner"), ("home.control", "tool")):
        decision = choose_route(intent, hint, tools=tools, available=BROWNOUT)
        assert decision.route == "micro" and decision.reason.endswith("_unavailable"), decision
    assert choose_route("info.query", "deep", force_route="deep", available=BROWNOUT).route == "micro"
    assert choose_route("out_of_scope", "planner", tools=tools, available=WITH_PLANNER).route == "planner"


def test_claims_carry_the_load_state_only_when_it_is_not_normal() -> None:
    import base64
    import json

    from alice.signing import Claims

    normal = Claims("acme", "user", "k1", ("*",))
    encoded = normal.encode()
    assert "load" not in json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert Claims.decode(encoded) == normal  # an old guardian's claims (no load) still decode
    brownout = Claims("acme", "user", "k1", ("*",), load="brownout")
    assert Claims.decode(brownout.encode()).load == "brownout"
