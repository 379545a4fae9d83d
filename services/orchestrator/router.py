"""The route policy: which path answers a message (DESIGN §1, step 3).

``micro`` and ``deep`` answer with the LLM; ``tool`` answers when a tool for the intent is registered (the chat
flow hands the message to the planner when the message lacks the tool's arguments); ``planner`` when the chat
service has one (it always has in the app; unit tests may leave it out). The policy decides what it *would* do
and says honestly what it did instead in :attr:`RouteDecision.reason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Route = Literal["tool", "micro", "planner", "deep"]

#: Routes that always answer; the others fall back to the nearest one that can.
AVAILABLE: Final[frozenset[str]] = frozenset({"micro", "deep"})
WITH_PLANNER: Final[frozenset[str]] = AVAILABLE | {"planner"}
#: Under the guardian's brownout: the small LLM route only (tools still answer).
BROWNOUT: Final[frozenset[str]] = frozenset({"micro"})
FALLBACK: Final[dict[str, Route]] = {"tool": "micro", "planner": "deep"}

MICRO_INTENTS: Final = frozenset({"greeting.hello", "smalltalk"})
DEEP_INTENTS: Final = frozenset({"info.query"})
_HINTS: Final[dict[str, Route]] = {"tool": "tool", "micro": "micro", "planner": "planner", "deep": "deep"}


@dataclass(frozen=True)
class RouteDecision:
    """The route that answers, the one that was wanted, and why they differ (or agree)."""

    route: Route
    wanted: Route
    reason: str


def _wanted(intent: str | None, route_hint: str | None) -> tuple[Route, str]:
    """What the NLU's answer asks for: its route hint, else a guess from the intent label."""
    if intent is None:
        return "deep", "nlu_unavailable"
    hinted = _HINTS.get(route_hint or "")
    if hinted is not None:
        return hinted, f"hint_{hinted}"
    if intent in MICRO_INTENTS:
        return "micro", "intent_micro"
    if intent in DEEP_INTENTS:
        return "deep", "intent_deep"
    return "deep", "intent_unknown"


def choose_route(
    intent: str | None,
    route_hint: str | None = None,
    force_route: Route | None = None,
    tools: frozenset[str] = frozenset(),
    available: frozenset[str] = AVAILABLE,
) -> RouteDecision:
    """Decide the route for a parsed message; ``force_route`` (from the request) wins over the NLU. ``tools``:
    the intents a registered tool answers (the tool route exists only for those); ``available``: the LLM routes
    that can answer."""
    if force_route is not None:
        wanted, reason = force_route, "forced"
    else:
        wanted, reason = _wanted(intent, route_hint)
    if wanted == "tool" and intent in tools:
        return RouteDecision(route="tool", wanted="tool", reason=reason)
    if wanted in available:
        return RouteDecision(route=wanted, wanted=wanted, reason=reason)
    fallback = "planner" if wanted == "tool" and "planner" in available else FALLBACK.get(wanted, "micro")
    if fallback not in available:
        fallback = "micro"
    return RouteDecision(route=fallback, wanted=wanted, reason=f"{reason}:{wanted}_unavailable")
