"""People: a name after "med", "till", "åt" or "för" ("möte med Anna", "mejla till Erik Johansson"), or after a
contact verb ("mejla Karin", "ring Erik").

Capitalised words after a trigger are taken as written; lower-case ones only when they are in the first-name
list, because people type "boka möte med anna". Names that are also ordinary words ("per", "bo", "hans")
need a capital letter. Weekdays, months, places and Alice's own name are never people. A capitalised name with
no trigger ("Moa fyller år") is left alone: the contract only promises names after a trigger, and a bare
capital is too often just the start of a sentence.

Names that are also towns follow three rules (the overlap itself is resolved in :mod:`nlu.entities`, where the
longer span wins and a person beats a place of the same span):

- A capitalised first name and a capitalised surname that is a town is a person ("med Erik Lund"); so is a
  capitalised town followed by a capitalised surname-like word ("till Mora Andersson"), but not "till Lund
  Centrum".
- A town alone after a trigger is a place unless it is a first name too ("möte med Lund" is the town, "möte
  med Nora" a person). A town flagged as a common word needs a place preposition, which "med" is not, so
  "möte med Mora" is neither.
- After "till"/"för" in a travel or weather clause ("åk till Nora", "vädret för Sofia") a name that is a town
  is the place, not the person (see :mod:`nlu.entities.context`).
"""

from __future__ import annotations

import re
from typing import Final

from nlu.entities.context import place_context
from nlu.entities.dates import MONTHS, WEEKDAYS
from nlu.entities.places import is_place
from nlu.entities.spans import Span, fold

# About 200 common Swedish first names (folded), written for this project from common knowledge.
FIRST_NAMES: Final = frozenset(
    """
anna eva maria karin kristina lena sara kerstin emma ingrid marie malin jenny hanna linda annika susanne elin
monica monika birgitta sofia sofie johanna inger carina elisabeth julia ulla katarina linnea emelie emilia ida
helena camilla asa anette annette sandra gunilla anneli marianne margareta ebba elsa maja wilma ella alva astrid
freja saga olivia vera selma alma klara stella agnes ellen ester lilly nora signe elvira tilda moa felicia
matilda amanda frida josefin lisa louise therese caroline cecilia charlotte jessica lovisa tove tova ronja siri
viktoria ylva yvonne agneta britt gun ann anita barbro berit greta gunnel inga irene jeanette lotta mia nina pia
petra rebecka sanna stina sigrid tuva vanja mikaela paula isabelle linn liv majken iris hedda evelina leila
lars mikael michael anders johan erik per karl carl peter thomas tomas jan daniel fredrik hans andreas stefan
mohammed mohammad ali ahmed mats magnus marcus markus jonas bengt bo oskar oscar nils alexander martin mattias
henrik emil sven leif bjorn patrik david gustav viktor simon niklas kent lennart robert christer tommy goran
ulf kjell rolf jonathan filip anton axel ludvig lucas lukas elias hugo oliver william liam noah adam arvid
edvin theo isak vincent leo olle alfred albin melvin ebbe sixten gunnar ingemar ake roger tobias joakim
johannes kristoffer christoffer christian sebastian rasmus jesper linus pontus kalle pelle olof ola ove stig
sten tor torbjorn urban jorgen hakan claes klas jakob jacob gabriel samuel benjamin felix hampus josef kevin
max erika sune bertil birger arne folke harald ivar kurt lasse janne micke jocke fia lollo
""".split()
)
# First names that are also ordinary words: only with a capital letter.
_AMBIGUOUS: Final = frozenset(
    {"per", "bo", "hans", "sten", "tor", "gun", "ann", "max", "liv", "klara", "inga", "saga", "iris", "bjorn",
     "ola", "ove", "urban", "kent", "mia", "siri", "alma", "vera", "signe", "stina", "lisa"}
)  # fmt: skip
_NOT_PEOPLE: Final = frozenset(
    {"alice", "hej", "google", "spotify", "netflix", "sonos", "siri", "alexa", "jul", "julafton", "pask",
     "midsommar", "sverige", "norge", "danmark", "finland", "svenska", "engelska", "jag", "du", "mig", "dig",
     "oss", "er", "dem", "honom", "henne", "alla", "mamma", "pappa", "chefen", "min", "mitt", "mina"}
) | frozenset(WEEKDAYS) | frozenset(MONTHS)  # fmt: skip
# Case-insensitive triggers on the original text; the name part is case-sensitive on purpose.
# "mejla Karin", "ring Erik": a contact verb names its person directly, without a preposition.
_TRIGGERS: Final = (
    r"(?i:med|till|åt|at|för|for"
    r"|(?:mejla|maila|e-posta|messa|sms:a|smsa|ringa|ring)(?!\s+(?:till|åt|at|med|för|for|upp|in|av|tillbaka)\b))"
)
_NAME_WORD: Final = r"[A-ZÅÄÖÉÜ][a-zåäöéüë]+(?:-[A-ZÅÄÖÉÜ][a-zåäöéüë]+)?"
_LOWER_WORD: Final = r"[a-zåäöéü]+(?:-[a-zåäöéü]+)?"
_ANY_WORD: Final = rf"(?:{_NAME_WORD}|{_LOWER_WORD})"
# A trigger, then up to three candidate words; _accept_words decides how many of them are a name.
_AFTER_TRIGGER_RE: Final = re.compile(rf"(?<!\w){_TRIGGERS}\s+(?P<name>{_ANY_WORD}(?:[ \t]+{_ANY_WORD}){{0,2}})")
_NEXT_NAME_RE: Final = re.compile(rf"\s*(?:,|och|&)\s*(?P<name>{_ANY_WORD}(?:[ \t]+{_NAME_WORD})?)(?!\w)")
_SURNAME_RE: Final = re.compile(
    r"[a-z]+(?:sson|son|berg|strom|lund|qvist|kvist|gren|dahl|holm|lin|lind|ander|blad|feldt|stedt|gard|man"
    r"|back|sjo|nas|wall|fors|mark)"
)
_WORD_RE: Final = re.compile(r"\S+")
# Triggers after which a travel or weather clause makes a town the place ("åk till Nora", "vädret för Sofia").
_PLACE_TRIGGERS: Final = frozenset({"till", "for"})


def _is_surname(word: str) -> bool:
    """A capitalised word shaped like a Swedish surname that is neither a place nor a first name ("Andersson")."""
    folded = fold(word)
    if not word[:1].isupper() or folded in FIRST_NAMES or folded in _NOT_PEOPLE or is_place(folded):
        return False
    return _SURNAME_RE.fullmatch(folded) is not None


def _town_then_surname(words: list[str]) -> bool:
    """ "Mora Andersson": a capitalised town used as a first name, because a surname follows it."""
    return words[0][:1].isupper() and len(words) > 1 and _is_surname(words[1])


def _accept_words(words: list[str]) -> int:
    """How many of ``words`` form a name (0: none): a first word, then capitalised or surname-like words."""
    first = fold(words[0]).split("-")[0]  # "Anna-Karin" is as much a first name as "Anna"
    if first in _NOT_PEOPLE or (is_place(first) and first not in FIRST_NAMES and not _town_then_surname(words)):
        return 0
    if not words[0][0].isupper() and (first not in FIRST_NAMES or first in _AMBIGUOUS):
        return 0
    count = 1
    for word in words[1:]:
        folded = fold(word)
        # A capitalised surname may be a town too ("Erik Lund"); a lower-case one must look like a surname.
        surname = word[0].isupper() or (_SURNAME_RE.fullmatch(folded) is not None and not is_place(folded))
        if not surname or folded in _NOT_PEOPLE or folded in FIRST_NAMES:
            break
        count += 1
    if count > 1 and is_place(" ".join(words[:count])) and first not in FIRST_NAMES:
        return 0  # "till New York"
    return count


def _is_place_here(text: str, trigger: re.Match[str], span: Span) -> bool:
    """Whether a name that is a town reads as the town: after "till"/"för" in a travel or weather clause."""
    folded = fold(text)
    trigger_word = folded[trigger.start() : trigger.start("name")].strip()
    if trigger_word not in _PLACE_TRIGGERS or not is_place(folded[span.start : span.end]):
        return False
    return place_context(folded, trigger.start())


def _name_span(text: str, start: int, phrase: str) -> Span | None:
    words = [(m.end(), m.group(0)) for m in _WORD_RE.finditer(phrase)]
    count = _accept_words([word for _, word in words])
    if not count:
        return None
    end = start + words[count - 1][0]
    value = " ".join("-".join(p[:1].upper() + p[1:] for p in w.split("-")) for w in text[start:end].split())
    return Span(start, end, "person", value)


def find_people(text: str) -> list[Span]:
    """People in the original ``text`` (case matters here, so this one does not work on folded text)."""
    spans: list[Span] = []
    for match in _AFTER_TRIGGER_RE.finditer(text):
        span = _name_span(text, match.start("name"), match.group("name"))
        if span is not None and _is_place_here(text, match, span):
            continue
        while span is not None:
            spans.append(span)
            # "med Anna och Erik": a second name after "och" or a comma shares the trigger.
            following = _NEXT_NAME_RE.match(text, span.end)
            span = _name_span(text, following.start("name"), following.group("name")) if following else None
    return spans
