"""Alice's intent taxonomy and the route hint each intent implies (see ``INTENTS.md``)."""

from __future__ import annotations

from typing import Final, Literal

RouteHint = Literal["tool", "micro", "planner", "deep"]

OUT_OF_SCOPE: Final = "out_of_scope"

#: label -> one-line description (kept in step with INTENTS.md).
INTENTS: Final[dict[str, str]] = {
    "greeting.hello": "A greeting: hej, hallå, god morgon.",
    "smalltalk": "Chit-chat, thanks, farewells, questions about Alice herself.",
    "time.now": "The current time of day.",
    "date.today": "Today's date, weekday, week number (or a nearby day's date).",
    "math.calculate": "An arithmetic expression or percentage to compute.",
    "timer.set": "Start a timer, or adjust one (add/remove time, pause, resume).",
    "timer.cancel": "Stop or remove one or all timers.",
    "timer.status": "How much time is left, which timers are running.",
    "weather.lookup": "Weather or forecast for a place and/or day.",
    "calendar.create_draft": "Draft a calendar event or meeting (also move/rebook one).",
    "email.create_draft": "Draft an e-mail to someone.",
    "memory.store": "Remember a fact or add an item to a list for the user.",
    "memory.query": "Recall something the user asked Alice to remember.",
    "home.control": "Control or query a smart-home device (lights, climate, locks, media, vacuum).",
    "info.query": "An open question or writing task for an LLM.",
    OUT_OF_SCOPE: "None of the above, gibberish, unsupported actions, or several tasks at once.",
}

TOOL_INTENTS: Final = frozenset(
    {
        "time.now",
        "date.today",
        "math.calculate",
        "timer.set",
        "timer.cancel",
        "timer.status",
        "weather.lookup",
        "calendar.create_draft",
        "email.create_draft",
        "memory.store",
        "memory.query",
        "home.control",
    }
)
MICRO_INTENTS: Final = frozenset({"greeting.hello", "smalltalk"})
DEEP_INTENTS: Final = frozenset({"info.query"})


def route_hint(label: str, accepted: bool = True) -> RouteHint:
    """The route the orchestrator should try first for ``label``.

    A prediction below the confidence threshold (``accepted=False``), ``out_of_scope`` and any label outside
    the taxonomy all go to the planner, which can ask, decompose or decline.
    """
    if not accepted or label == OUT_OF_SCOPE:
        return "planner"
    if label in TOOL_INTENTS:
        return "tool"
    if label in MICRO_INTENTS:
        return "micro"
    if label in DEEP_INTENTS:
        return "deep"
    return "planner"
