"""The route hint of one parse: from the intent, whether its required entities are there, and how complex
the request looks.

Rules, first match wins:

1. A rejected prediction, ``out_of_scope`` or a label outside the taxonomy → ``planner``.
2. A multi-step request → ``planner``: a sequencing phrase ("och sen", "och sedan", "och även", "och dessutom",
   "därefter", "efter det"), or a second intent close behind the first (runner-up probability ≥
   :data:`SECOND_INTENT_MIN_P`) joined by "och" / a comma (a greeting with chit-chat is not two tasks), or
   more than :data:`MAX_SIMPLE_WORDS` words
   (except ``info.query``: a long open question is still one question and goes ``deep``).
3. A tool intent missing the entities it cannot run without → ``planner``, which asks a follow-up question
   (``timer.set`` with no duration or time, ``math.calculate`` with nothing to compute, ``calendar.create_draft``
   with no date or time). Pausing or resuming a timer needs none. An e-mail draft needs no entity: a recipient
   named without a preposition ("mejla Karin att …") or by role ("till hyresvärden") is not an entity, and the
   draft tool leaves an unknown address empty and says so.
4. ``time.now`` / ``date.today`` on a message that is nothing but a clock time or a date ("Klockan 14", "på
   fredag") → ``planner``: it states a value (most likely answering an earlier question) and asks nothing.
5. Otherwise the intent's own hint (:func:`nlu.intents.route_hint`): tool, micro (greeting, smalltalk) or deep
   (``info.query``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from nlu.intents import OUT_OF_SCOPE, RouteHint, route_hint

MAX_SIMPLE_WORDS: Final = 25
SECOND_INTENT_MIN_P: Final = 0.2

#: intent -> entity types of which at least one must be present for the tool to run without asking.
REQUIRED_ENTITIES: Final[dict[str, frozenset[str]]] = {
    "timer.set": frozenset({"duration", "time"}),
    "math.calculate": frozenset({"expression", "number"}),
    "calendar.create_draft": frozenset({"date", "time"}),
}
#: timer.set also covers pause/resume, which name no duration.
_NO_ENTITY_NEEDED: Final = {"timer.set": re.compile(r"\b(paus\w*|fortsätt\w*|fortsatt\w*|återuppta\w*|ateruppta\w*)")}
_MULTI_STEP: Final = re.compile(
    r"\b(och (sen|sedan|så|sa|även|aven|också|dessutom|efter det|därefter)|därefter|darefter|efter det)\b",
    re.IGNORECASE,
)
_JOINED: Final = re.compile(r"(\boch\b|,|;)", re.IGNORECASE)
#: Intents that ask about now; a bare clock time or date is not such a question.
_ASKS_NOW: Final = frozenset({"time.now", "date.today"})
_WORD: Final = re.compile(r"\w+")
#: Intents the micro route answers together: a greeting joined with chit-chat is not two tasks.
_CONVERSATIONAL: Final = frozenset({"greeting.hello", "smalltalk"})


def missing_entities(label: str, entities: Iterable[Mapping[str, Any]], text: str = "") -> bool:
    """True when ``label`` needs one of its required entity types and none of them was found."""
    required = REQUIRED_ENTITIES.get(label)
    if not required:
        return False
    exempt = _NO_ENTITY_NEEDED.get(label)
    if exempt is not None and exempt.search(text.lower()):
        return False
    return not any(e.get("type") in required for e in entities)


def is_bare_value(text: str, entities: Iterable[Mapping[str, Any]]) -> bool:
    """True when ``text`` holds entities and no word outside them ("Klockan 14", "imorgon kl 9")."""
    spans = [(int(e["start"]), int(e["end"])) for e in entities if "start" in e and "end" in e]
    if not spans:
        return False
    rest = "".join(" " if any(s <= i < e for s, e in spans) else ch for i, ch in enumerate(text))
    return _WORD.search(rest) is None


def is_multi_step(text: str, label: str, runner_up: tuple[str, float] | None = None) -> bool:
    """A request the planner should decompose: sequencing words, two intents joined, or a long text."""
    if _MULTI_STEP.search(text):
        return True
    if runner_up is not None and runner_up[0] not in {label, OUT_OF_SCOPE} and runner_up[1] >= SECOND_INTENT_MIN_P:
        chat_only = {label, runner_up[0]} <= _CONVERSATIONAL  # "hej, trevligt att höras": one micro answer
        if _JOINED.search(text) and not chat_only:
            return True
    return label != "info.query" and len(text.split()) > MAX_SIMPLE_WORDS


def plan_route(
    label: str,
    accepted: bool,
    entities: Sequence[Mapping[str, Any]] = (),
    text: str = "",
    runner_up: tuple[str, float] | None = None,
) -> RouteHint:
    """The route hint for one parse (see the module docstring for the rules)."""
    base = route_hint(label, accepted)
    if base == "planner":
        return base
    if text and is_multi_step(text, label, runner_up):
        return "planner"
    if base == "tool" and missing_entities(label, entities, text):
        return "planner"
    if label in _ASKS_NOW and text and is_bare_value(text, entities):
        return "planner"
    return base
