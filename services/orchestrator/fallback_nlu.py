"""While the NLU service is unavailable: a rule reading of the message for the tools that need no NLU entities.

``time.now``, ``date.today``, ``math.calculate`` and ``weather.lookup`` read what they need from the words of the
message themselves (the place from the clock's gazetteer or "i <Ort>", the formula from the text), so with these
rules their questions keep their tool answers while the NLU is down or its breaker is open. Anything else gets no
reading and goes to the LLM, as it did before. Precision over recall: a rule fires only on a phrasing that leaves
no doubt, because a wrong tool answer is worse than the LLM's. Measured on the labelled files (docs/TOOLS.md):
precision 1.0 on each, recall 34–100 % of those four intents.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from orchestrator.nlu import NluResult
from orchestrator.tools.base import STOCKHOLM
from orchestrator.tools.calculator import formula_from_text
from orchestrator.tools.clock import place_in_text

VERSION: Final = "fallback-rules-2"
CONFIDENCE: Final = 0.9
_FOLD: Final = str.maketrans("åäöéü", "aaoeu")

#: Matched on the message lower-cased with å/ä → a, ö → o (people type "vad ar klockan").
_RULES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (intent, re.compile(pattern))
    for intent, pattern in (
        (
            "time.now",
            r"\b(?:vad|va|hur mycket|hur mkt) (?:ar|e) (?:klockan|klockn|kloclan)\b|\bvad klockan ar\b"
            r"|\bklockan nu\b|\bvilken tid (?:ar det|har vi)\b|\bhur dags\b|\baktuell tid\b|\btiden (?:just )?nu\b"
            r"|\bwhat time is it\b|^klockan\W*$|\b(?:sag|kolla) klockan\b|\bklockslag nu\b",
        ),
        (
            "date.today",
            r"\b(?:vilket|vad ar det for|vad e de for|vad har vi for) datum\b|\bdagens datum\b|\bdatum(?:et)? idag\b"
            r"|^datum(?:et)?\W*$|\bvilken (?:vecko)?dag (?:ar|e) det\b|\bvad (?:ar|e) (?:det|de) for (?:vecko)?dag\b"
            r"|\bvilken vecka\b|\bveckonummer\b|\bvilken manad ar det\b|\bvilket ar ar det\b"
            r"|\bar det (?:man|tis|ons|tors|fre|lor|son)dag idag\b",
        ),
        (
            "weather.lookup",
            r"\bvad(?:er|ret)\b|\bvaderprognos|\bvaderleksrapport|\bprognos(?:en)? (?:for|idag|imorgon|ikvall)\b"
            r"|\b(?:kommer det (?:att )?|blir det )(?:regn|regna|sno|snoa|sol|aska|storm)\b|\bregnar det\b"
            r"|\bsnoar det\b|\bhur (?:varmt|kallt) (?:ar|blir) det\b|\btemperatur(?:en)? ute\b|\bparaply\b",
        ),
    )
)
#: Questions *about* a subject (weather as a topic, a date in history) are the LLM's, as are several tasks.
_NOT_A_TOOL_QUESTION: Final = re.compile(
    r"\b(?:varfor|skillnad\w*|forklara|hur fungerar|vad betyder|beratta|historia)\b"
    r"|\b(?:och|,) *(?:satt|stall|starta|boka|mejla|skicka|tand|slack|paminn|spara|ring|skapa)\b"
    r"|\b(?:sen|sedan|darefter)\b"
)
#: Days other than today: the tools would need the NLU's date entity; only these two are read here.
_OTHER_DAY: Final = re.compile(
    r"\b(?:igar|forrgar|helg\w*|nasta|forra|vecka|(?:man|tis|ons|tors|fre|lor|son)dag\w*|om \w+ dag\w*)\b"
)
#: Indoor temperatures are the home's sensors (home.control), not the weather.
_INDOORS: Final = re.compile(r"\b(?:inne|inomhus|\w*rummet|koket|bastun|hallen|kontoret|garaget|huset|lagenheten)\b")
_TOMORROW: Final = re.compile(r"\b(?:imorgon|i morgon|imorn|i morn)\b")
_DAY_AFTER: Final = re.compile(r"\bi overmorgon\b")
_MATH_CUE: Final = re.compile(
    r"\b(?:rakna|berakna|kalkylera|vad ar|va ar|vad blir|hur mycket (?:ar|blir)|multiplicera|dela|summan"
    r"|roten ur|calculate|what is)\b"
)
_BARE_FORMULA: Final = re.compile(r"[\d\s+\-*/x×÷().,=?^]+")
_NAMED_PLACE: Final = re.compile(r"\b(?:i|för|på) ([A-ZÅÄÖ][\wåäöéü-]+(?: [A-ZÅÄÖ][\wåäöéü-]+)?)")


def _place(text: str) -> tuple[dict[str, object], ...]:
    known = place_in_text(text)
    if known is not None:
        return ({"type": "place", "value": known.name},)
    named = _NAMED_PLACE.search(text)
    return ({"type": "place", "value": named.group(1)},) if named else ()


def _day(folded: str, today: dt.date) -> tuple[dict[str, object], ...] | None:
    """The date entity of "imorgon" / "i övermorgon", none for today, None for a day these rules cannot read."""
    if _DAY_AFTER.search(folded):
        return ({"type": "date", "value": (today + dt.timedelta(days=2)).isoformat()},)
    if _TOMORROW.search(folded):
        return ({"type": "date", "value": (today + dt.timedelta(days=1)).isoformat()},)
    return None if _OTHER_DAY.search(folded) else ()


def fallback_parse(text: str, today: dt.date | None = None) -> NluResult | None:
    """The tool intent ``text`` asks for beyond doubt (route hint ``tool``), with the entities its tool cannot
    read from the text itself; None when there is doubt."""
    folded = " ".join(text.casefold().translate(_FOLD).split())
    if not folded or _NOT_A_TOOL_QUESTION.search(folded):
        return None
    day = today or dt.datetime.now(STOCKHOLM).date()
    for intent, pattern in _RULES:
        if not pattern.search(folded):
            continue
        if intent == "time.now":
            return NluResult(intent, CONFIDENCE, "tool", model_version=VERSION)
        if intent == "weather.lookup" and _INDOORS.search(folded):
            return None
        dates = _day(folded, day)
        if dates is None or (intent == "date.today" and dates):
            return None  # another day than today (the date tool's "imorgon" needs the NLU too)
        entities = (*_place(text), *dates) if intent == "weather.lookup" else ()
        return NluResult(intent, CONFIDENCE, "tool", entities, model_version=VERSION)
    if formula_from_text(text) is not None and (_MATH_CUE.search(folded) or _BARE_FORMULA.fullmatch(folded)):
        return NluResult("math.calculate", CONFIDENCE, "tool", model_version=VERSION)
    return None
