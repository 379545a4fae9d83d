"""The words before a name that say whether it is a place or a person: "åk till Nora" against "ring till Nora".

A few towns are first names too ("Nora", "Sofia"). After "till" or "för" the name alone cannot tell, so the
clause before the trigger decides: a travel or weather word ("åka", "tåget", "hur långt", "vädret") makes it a
place, unless a word about reaching a person ("skicka", "mejla", "ring") is there too ("skicka vädret till
Sofia" is for Sofia). Words are folded (see :func:`nlu.entities.spans.fold`).
"""

from __future__ import annotations

import re
from typing import Final

_TRAVEL: Final = frozenset(
    """
ak aka aker akte akt res resa reser reste resan resor flyg flyga flyger flog flyget flygbiljett tag taget
tagbiljett buss bussen bussar kor kora korde cykla cyklar cyklade pendla pendlar vag vagen vagbeskrivning hitta
navigera avstand avstandet langt biljett biljetter biljetten avgang avgangar restid resvag
""".split()
)
_WEATHER: Final = frozenset(
    """
vader vadret vaderprognos vaderprognosen prognos prognosen temperatur temperaturen regn regnar regna sno snoar
blaser blasigt sol soligt grader varmt kallt molnigt
""".split()
)
_REACH_A_PERSON: Final = frozenset(
    """
skicka skickar mejla mejl maila mail sms sms:a smsa messa ring ringa ringer skriv skriva beratta sag
saga fraga hals halsa tacka bjud bjuda
""".split()
)
#: How many words before the trigger count: "hur långt är det till Nora" needs four.
WINDOW: Final = 4
_CLAUSE_END_RE: Final = re.compile(r".*[.,;!?]", re.DOTALL)
_WORD_RE: Final = re.compile(r"[\w:]+")


def _words_before(folded: str, start: int) -> list[str]:
    """Up to :data:`WINDOW` words before ``start`` in the same clause, nearest last."""
    before = folded[max(0, start - 80) : start]
    clause_end = _CLAUSE_END_RE.match(before)
    if clause_end is not None:
        before = before[clause_end.end() :]
    return _WORD_RE.findall(before)[-WINDOW:]


def place_context(folded: str, start: int) -> bool:
    """Whether the clause before ``start`` (a trigger such as "till") is about travel or weather, not a person."""
    words = set(_words_before(folded, start))
    return bool(words & (_TRAVEL | _WEATHER)) and not words & _REACH_A_PERSON
