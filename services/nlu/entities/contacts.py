"""E-mail addresses (lower-cased) and phone numbers (E.164 via ``phonenumbers``, Swedish by default).

A cheap regular expression finds phone-like digit runs that start with "0", "+" or "00" (years, prices and
timer lengths never do) and only those reach ``phonenumbers``, whose own matcher costs ~0.3 ms a sentence.
"""

from __future__ import annotations

import re
from typing import Final

import phonenumbers

from nlu.entities.spans import Span

_EMAIL_RE: Final = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
# "070-123 45 67", "0701234567", "+46 70 123 45 67", "08-123 456 78", "(08) 123 456 78", "0046 ...".
_PHONE_RE: Final = re.compile(r"(?<![\w+])(?:\+|\(?0)\d[\d()]*(?:[ \u00a0\-/]\(?\d[\d()]*)*(?![\w])")
_MONEY_AFTER_RE: Final = re.compile(r"\s*(?:kr\b|kronor|sek\b|:-|%)")
_MIN_DIGITS: Final = 8
_MAX_DIGITS: Final = 15


def find_emails(text: str) -> list[Span]:
    """E-mail addresses in ``text``, valued lower-cased."""
    return [Span(m.start(), m.end(), "email", m.group(0).lower()) for m in _EMAIL_RE.finditer(text)]


def _e164(candidate: str) -> str | None:
    digits = sum(c.isdigit() for c in candidate)
    if not _MIN_DIGITS <= digits <= _MAX_DIGITS:
        return None
    try:
        number = phonenumbers.parse(candidate, "SE")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_phones(text: str) -> list[Span]:
    """Phone numbers in ``text`` as E.164; a run that is too long is trimmed group by group from the right."""
    spans: list[Span] = []
    for match in _PHONE_RE.finditer(text):
        if _MONEY_AFTER_RE.match(text, match.end()):
            continue
        # Group ends, so "ring 0701234567 10 gånger" can still find the number without the trailing "10".
        ends = [m.start() for m in re.finditer(r"[ \u00a0\-/]", match.group(0))] + [len(match.group(0))]
        for end in reversed(ends):
            candidate = match.group(0)[:end].rstrip(")")
            value = _e164(candidate)
            if value is not None:
                spans.append(Span(match.start(), match.start() + len(candidate), "phone", value))
                break
    return spans
