"""Swedish cue classes: what a sentence *does* (switch on, close, cancel, ask for a state) and what it is *about*
(a timer, a blind, the TV), as a few dozen binary features next to the embedding and the character n-grams.

Why: with a few hundred training sentences the classifier cannot learn from examples alone that "dra för
gardinerna", "hissa ner persiennerna" and "stäng rullgardinen" all close something, or that "ta bort 5 minuter
från timern" shortens a timer while "ta bort timern" cancels it. The embedding barely separates such pairs.
Each class below is Swedish language knowledge written once (verbs with their particles, device nouns, question
frames); the classifier learns per intent how much each cue counts. On the Home Assistant 2-fold check this
lifted accuracy from 0.85 to 0.96–0.98 (``docs/NLU_FINDINGS.md``).

Patterns match the folded text (lower case, å/ä/ö → a/a/o, see :func:`nlu.entities.spans.fold`), so they are
written without diacritics and also match how people type on a phone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import sparse

from nlu.entities.spans import fold

_DURATION_UNIT = r"(sekund|minut|timm)"

#: cue name → regular expressions over the folded text; a sentence has the cue when any of them matches.
CUES: dict[str, tuple[str, ...]] = {
    # --- actions -------------------------------------------------------------------------------------------
    "switch_on": (r"\btand", r"\bsla (pa|igang)\b", r"\bsatt (pa|igang)\b", r"\bkoppla (pa|in)\b", r"\baktivera",
                  r"\bknapp pa\b"),
    "switch_off": (r"\bslack", r"\bstang av\b", r"\bsla av\b", r"\bkoppla (av|ur|bort)\b", r"\binaktivera",
                   r"\bstang (ner|ned) "),
    "open": (r"\boppna", r"\bdra (upp|bort|ifran)\b", r"\bhissa upp\b", r"\brulla upp\b", r"\bfall upp\b", r"\bhoj "),
    "close": (r"\bstang(?! av)\b", r"\bstang (?!av\b)", r"\bdra (for|igen|ner|ned)\b", r"\bhissa (ner|ned)\b",
              r"\brulla (ner|ned)\b", r"\bsla for\b", r"\bfall (ner|ned)\b"),
    "lock": (r"\blas(?! upp)\b", r"\blas (?!upp)"),
    "unlock": (r"\blas upp\b",),
    "level": (r"\d+ ?(%|procent)", r"\bprocent", r"\bljusstyrk", r"\bdimma", r"\bdimra", r"\bljusare\b",
              r"\bmorkare\b", r"\bfarg", r"\b(rod|bla|gron|gul|vit|lila|rosa|orange)\b"),
    "start": (r"\bstarta\b", r"\bsatt (en|ett)\b", r"\bstall (en|in)\b", r"\bpaborja"),
    "cancel": (r"\bavbryt", r"\bstoppa", rf"\bta bort\b(?! \S+ {_DURATION_UNIT})", r"\bradera", r"\bavsluta",
               r"\bnollstall"),
    "pause": (r"\bpausa", r"\bpaus\b", r"\bfrys"),
    "resume": (r"\bfortsatt", r"\bateruppta", r"\bstarta (om|igen)\b", r"\bkor vidare"),
    "increase": (rf"\blagg (till|pa) \S+ {_DURATION_UNIT}", r"\boka", r"\bforlang", r"\bplus\b", r"\bmer tid"),
    "decrease": (r"\bminska", r"\bkorta", rf"\b(dra|ta) (av|bort) \S+ {_DURATION_UNIT}", r"\bminus\b",
                 r"\bmindre tid"),
    "next": (r"\bnasta\b", r"\bhoppa over", r"\bskippa", r"\bframat\b"),
    "previous": (r"\bforegaende", r"\bforra\b", r"\bsenaste\b", r"\btillbaka\b", r"\bspela om\b", r"\bbakat\b"),
    "dock": (r"\bdocka", r"\bladdstation", r"\bbasen?\b", r"\bskicka (hem|tillbaka)", r"\bga hem"),
    "broadcast": (r"\bsand\b", r"\bsand att", r"\bskicka", r"\bmeddela", r"\butropa", r"\bannonsera",
                  r"\bsag till alla"),
    "nevermind": (r"\bglom", r"\bstrunta", r"\bstrunt", r"\bingenting\b", r"\bnej tack", r"\bskit samma"),
    "respond": (r"^(hej|hallo|halla|tjena|tja)\b", r"^sag\b"),
    # --- question frames -----------------------------------------------------------------------------------
    "state_q": (r"^(ar|finns|vilka|vilken|hur manga|ar det)\b", r"^(var|vem|vilka) (ar|finns)\b", r"\bstatus\b",
                r"\?$"),
    "state_adj": (r"^(ar|finns)\b.*\b(tand|tanda|tant|slackt|slackta|oppen|oppna|oppet|stangd|stangda|stangt|last|"
                  r"lasta|olast|igang|pa|av)\b",),
    "remaining": (r"\bkvar\b", r"\bhur lang tid", r"\bhur mycket tid", r"\bnar (ar|blir)"),
    # --- things --------------------------------------------------------------------------------------------
    "timer": (r"timer", r"\bnedrakning", r"\baggklock"),
    "media": (r"\btv\b", r"\bmusik", r"\blat(en|ar)?\b", r"\bspotify", r"\bhogtalar", r"\bspela", r"\bradio",
              r"\bpodd", r"\bspellista", r"\bavsnitt"),
    "volume": (r"\bvolym", r"\bhogre\b", r"\blagre\b", r"\bljudet\b", r"\btyst"),
    "vacuum": (r"\bdammsug", r"\brobot", r"\bdocka", r"\bladdstation", r"\bbasen?\b", r"\brover\b"),
    "climate": (r"\btemperatur", r"\bgrader\b", r"\bvarmt\b", r"\bkallt\b", r"\btermostat", r"\bvarme", r"\bbastu"),
    "weather": (r"\bvader", r"\bvadret", r"\bregn", r"\bsnoa", r"\bprognos", r"\bsolig", r"\bblasig"),
    "date": (r"\bdatum", r"\bvilken dag", r"\bvad ar det for dag", r"\bveckodag"),
    "clock": (r"\bklocka", r"\bhur mycket ar klockan", r"\bvad ar klockan", r"\btid ar det"),
    "list": (r"\blista", r"\binkopslist", r"\bhandla", r"\bshopping"),
    "light": (r"\blamp", r"\bljus", r"\bbelysning", r"\bspotlight", r"\btaklamp"),
    "cover": (r"gardin", r"persienn", r"rullgardin", r"markis", r"jalusi", r"forhang", r"\bport", r"garage", r"dorr",
              r"fonst(er|r)", r"\blucka"),
    # --- shape ---------------------------------------------------------------------------------------------
    "all": (r"\balla\b", r"\ballt\b", r"\boverallt"),
    "from": (r"\bfran\b",),
    "sized": (r"(minuters|timmes|sekunders)\b",),
    "has_number": (r"\d", r"\b(en|ett|tva|tre|fyra|fem|sex|sju|atta|nio|tio|elva|tolv|femton|tjugo|trettio|halv|"
                   r"kvart)\b"),
    "duration": (rf"\b{_DURATION_UNIT}", r"\b(min|h|s)\b"),
}  # fmt: skip

NAMES: tuple[str, ...] = tuple(sorted(CUES))


@lru_cache(maxsize=1)
def _compiled() -> tuple[re.Pattern[str], ...]:
    """One alternation per cue, in :data:`NAMES` order."""
    return tuple(re.compile("|".join(f"(?:{p})" for p in CUES[name])) for name in NAMES)


def cue_digest() -> str:
    """A short hash of the cue table: a model trained with other cues is another model version."""
    return hashlib.sha256(json.dumps(CUES, sort_keys=True).encode()).hexdigest()[:12]


def cue_indices(text: str) -> list[int]:
    """Positions in :data:`NAMES` of the cues ``text`` has."""
    folded = fold(text).strip()
    return [j for j, pattern in enumerate(_compiled()) if pattern.search(folded)]


def cues_of(text: str) -> list[str]:
    """The cue names ``text`` has, in :data:`NAMES` order."""
    return [NAMES[j] for j in cue_indices(text)]


def cue_matrix(texts: Sequence[str], weight: float = 1.0) -> sparse.csr_matrix:
    """One row per text, one column per cue: ``weight`` where the cue is present, else 0."""
    rows: list[int] = []
    cols: list[int] = []
    for i, text in enumerate(texts):
        present = cue_indices(text)
        rows.extend([i] * len(present))
        cols.extend(present)
    data = np.full(len(rows), weight, dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(texts), len(NAMES)))
