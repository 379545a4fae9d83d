"""Swedish personal data in free text: find it, and replace it with stable tokens before anything downstream
(cache keys, logs, the LLM, the audit trail) sees the text.

What counts, and how it is checked (a number that fails its check is not personal data: an order number, an
organisation number, a date):

- ``PERSONNUMMER``: personnummer and samordningsnummer (day + 60), 10 or 12 digits, optionally "-" or "+"
  before the last four: Luhn checksum (python-stdnum) and a real date; serial 000 is never issued.
- ``PHONE_NUMBER``: numbers libphonenumber (``phonenumbers``) finds and calls valid, Swedish by default.
- ``EMAIL``: an address with a dotted domain.
- ``IBAN``: country code, check digits and BBAN, validated by python-stdnum (spaces allowed in groups of four).
- ``PAYMENT_CARD``: 13–19 digits (spaces or dashes between groups) starting 2–6, Luhn valid.

Where candidates overlap, the first kind in :data:`PRIORITY` wins (a personnummer is not also a phone number).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

import phonenumbers
from stdnum import iban, luhn

PERSONNUMMER: Final = "PERSONNUMMER"
PHONE_NUMBER: Final = "PHONE_NUMBER"
EMAIL: Final = "EMAIL"
IBAN: Final = "IBAN"
PAYMENT_CARD: Final = "PAYMENT_CARD"
#: Checked in this order; a later kind never overlaps an earlier one.
PRIORITY: Final = (EMAIL, IBAN, PERSONNUMMER, PAYMENT_CARD, PHONE_NUMBER)
#: The Swedish word in a redaction token, so the LLM's answer reads naturally around it.
TOKEN_WORDS: Final[dict[str, str]] = {
    PERSONNUMMER: "PERSONNUMMER",
    PHONE_NUMBER: "TELEFONNUMMER",
    EMAIL: "E-POST",
    IBAN: "KONTONUMMER",
    PAYMENT_CARD: "KORTNUMMER",
}

_EMAIL_RE: Final = re.compile(r"(?<![\w.+-])[\w.+-]+@(?:[\w-]+\.)+[^\W\d_]{2,}(?![\w-])")
_PNR_RE: Final = re.compile(r"(?<![\d+-])(?P<date>(?:1[89]|20)?\d{6})(?P<sep>[-+]?)(?P<tail>\d{4})(?![\d])")
_IBAN_RE: Final = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w])")
_CARD_RE: Final = re.compile(r"(?<![\d-])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\d])")


@dataclass(frozen=True)
class PiiSpan:
    """One piece of personal data: where it is, what kind, and the text as written."""

    start: int
    end: int
    type: str
    value: str


def valid_personnummer(digits: str) -> bool:
    """Whether 10 or 12 digits are a personnummer or samordningsnummer: Luhn over the last ten, a real birth date
    (day − 60 for a samordningsnummer, whose month or day may be 00 when unknown), a serial other than 000. The
    separator ("-", "+" for someone 100 or older, or none) is not checked against the age."""
    if len(digits) not in (10, 12) or not digits.isdigit():
        return False
    ten = digits[-10:]
    if not luhn.is_valid(ten) or ten[6:9] == "000":
        return False
    year, month, day = int(ten[0:2]), int(ten[2:4]), int(ten[4:6])
    if day >= 60:  # samordningsnummer
        day -= 60
        if (month == 0 or day == 0) and month <= 12 and day <= 31:
            return True
    centuries = [int(digits[:2]) * 100] if len(digits) == 12 else [1800, 1900, 2000]
    return any(_is_date(century + year, month, day) for century in centuries)


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _personnummer(text: str) -> Iterator[PiiSpan]:
    for m in _PNR_RE.finditer(text):
        if valid_personnummer(m.group("date") + m.group("tail")):
            yield PiiSpan(m.start(), m.end(), PERSONNUMMER, m.group(0))


def _emails(text: str) -> Iterator[PiiSpan]:
    for m in _EMAIL_RE.finditer(text):
        yield PiiSpan(m.start(), m.end(), EMAIL, m.group(0))


def _ibans(text: str) -> Iterator[PiiSpan]:
    """The longest valid IBAN at the start of each candidate: the regex is greedy, so "… 7466 500 kr" or
    "… 7466 SEK" must not hide the account number behind a failed check of the longer run."""
    for m in _IBAN_RE.finditer(text):
        raw = m.group(0)
        for end in range(len(raw), 14, -1):
            if raw[end - 1] != " " and iban.is_valid(raw[:end]):
                yield PiiSpan(m.start(), m.start() + end, IBAN, raw[:end])
                break


#: Card lengths tried on a run of digits written together, most common first.
_COMPACT_CARD_LENGTHS: Final = (16, 15, 19, 14, 13, 18, 17)


def _card_cuts(raw: str) -> list[int]:
    """Where a card inside ``raw`` may end: after each group when it is written in groups ("4111 1111 …"),
    else after the usual card lengths."""
    if re.search(r"[ -]", raw):
        return [m.end() for m in re.finditer(r"\d+", raw)][::-1]
    return [n for n in _COMPACT_CARD_LENGTHS if n <= len(raw)]


def _cards(text: str) -> Iterator[PiiSpan]:
    """The longest Luhn-valid card of 13–19 digits at the start of each candidate ("4111 1111 1111 1111 123" or
    a card followed by "12/27" still hides the card)."""
    for m in _CARD_RE.finditer(text):
        raw = m.group(0)
        for end in _card_cuts(raw):
            digits = re.sub(r"\D", "", raw[:end])
            if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
                yield PiiSpan(m.start(), m.start() + end, PAYMENT_CARD, raw[:end])
                break


def _phones(text: str, region: str) -> Iterator[PiiSpan]:
    for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        yield PiiSpan(m.start, m.end, PHONE_NUMBER, m.raw_string)


def find_pii(text: str, region: str = "SE", kinds: Iterable[str] = PRIORITY) -> list[PiiSpan]:
    """Every piece of personal data in ``text`` of the given kinds, in text order, never overlapping."""
    wanted = set(kinds)
    finders = {
        EMAIL: _emails,
        IBAN: _ibans,
        PERSONNUMMER: _personnummer,
        PAYMENT_CARD: _cards,
        PHONE_NUMBER: lambda t: _phones(t, region),
    }
    found: list[PiiSpan] = []
    for kind in PRIORITY:
        if kind not in wanted:
            continue
        for span in finders[kind](text):
            if not any(span.start < other.end and other.start < span.end for other in found):
                found.append(span)
    return sorted(found, key=lambda s: s.start)


def _normal(span: PiiSpan) -> str:
    """The value without layout, so "070-174 06 12" and "0701740612" get the same token."""
    if span.type == EMAIL:
        return span.value.casefold()
    return re.sub(r"[\s-]", "", span.value).upper()


@dataclass
class Redactor:
    """Replaces personal data with tokens ``[TELEFONNUMMER_1]``; the same value gets the same token for the
    lifetime of the redactor (one request), so "ring 070-… eller 070-…" keeps its meaning."""

    region: str = "SE"
    kinds: tuple[str, ...] = PRIORITY

    def __post_init__(self) -> None:
        self._tokens: dict[tuple[str, str], str] = {}
        self.found: list[PiiSpan] = []

    def token(self, span: PiiSpan) -> str:
        key = (span.type, _normal(span))
        if key not in self._tokens:
            n = sum(1 for kind, _ in self._tokens if kind == span.type) + 1
            self._tokens[key] = f"[{TOKEN_WORDS[span.type]}_{n}]"
        return self._tokens[key]

    def redact(self, text: str) -> str:
        """``text`` with every piece of personal data replaced by its token."""
        spans = find_pii(text, self.region, self.kinds)
        self.found.extend(spans)
        out: list[str] = []
        last = 0
        for span in spans:
            out.append(text[last : span.start])
            out.append(self.token(span))
            last = span.end
        out.append(text[last:])
        return "".join(out)

    def counts(self) -> dict[str, int]:
        """How many pieces of each kind were redacted (for the audit entry: kinds and counts, never values)."""
        result: dict[str, int] = {}
        for span in self.found:
            result[span.type] = result.get(span.type, 0) + 1
        return result
