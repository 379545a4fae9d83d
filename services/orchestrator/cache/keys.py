"""The exact tier's key: a canonical form of the question plus everything that changes its answer.

Canonical text (Swedish-aware): Unicode NFC, case-folded, typographic quotes/dashes/spaces unified, punctuation
(. , ! ? ; : quotes, brackets, ellipsis) removed except inside numbers and clock times ("1,5", "10:30", "3.5"),
whitespace collapsed. Symbols that carry meaning stay ("2+2" and "2-2", "50 %" and "50"). Å, ä and ö are
kept — "får" and "far" are different words — while the Danish/Norwegian letters æ and ø, which Nordic keyboards
produce for ä and ö, are read as ä and ö. The key hashes the canonical text with the tenant, the model, the
prompt version, the policy version, the NLU model version and a forced route, so changing any of them never
serves an old answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

KEY_FORMAT = 1

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u00b4": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u2009": " ",
        "æ": "ä", "ø": "ö",
    }
)  # fmt: skip
# A separator between digits ("1,5", "10:30", "2.5") is part of the number; other sentence punctuation goes.
_NUMBER_SEPARATOR = re.compile(r"(?<=\d)[.,:](?=\d)")
_PUNCT = re.compile(r"[.,!?;:\"'()\[\]{}\u2026\u00bf\u00a1]")
_CONTROL = re.compile(r"[\u0000-\u001f\u007f]")
_SPACES = re.compile(r"\s+")
_PLACEHOLDER = "\u0001"


def canonical_text(text: str) -> str:
    """The canonical form of a question: what two identical questions have in common."""
    folded = unicodedata.normalize("NFC", _CONTROL.sub(" ", text)).casefold().translate(_TRANSLATE)
    folded = unicodedata.normalize("NFC", folded)
    kept: list[str] = []

    def _keep(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return _PLACEHOLDER

    protected = _NUMBER_SEPARATOR.sub(_keep, folded)
    stripped = _PUNCT.sub(" ", protected)
    restored = iter(kept)
    joined = re.sub(_PLACEHOLDER, lambda _m: next(restored), stripped)
    return _SPACES.sub(" ", joined).strip()


@dataclass(frozen=True)
class KeyContext:
    """What else an answer depends on besides the question (one per deployment, NLU version refreshed)."""

    model: str
    prompt_version: str
    policy_version: str
    nlu_version: str


def exact_key(tenant: str, text: str, context: KeyContext, force_route: str | None = None) -> str:
    """The exact tier's key for ``text`` asked by ``tenant`` (hex SHA-256)."""
    parts = [
        KEY_FORMAT,
        tenant,
        canonical_text(text),
        context.model,
        context.prompt_version,
        context.policy_version,
        context.nlu_version,
        force_route or "",
    ]
    raw = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()
