"""Personal data in Swedish text: what is found, what is left alone, and how the guardian step applies it.

Numbers are made for these tests (check digits computed here), from PTS's phone range for fiction (070-174 06 xx),
the SWIFT example IBAN and the well-known test card 4111 1111 1111 1111; no real person's data.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from stdnum import luhn

from alice.errors import PolicyDeniedError
from guardian.chat import parse_chat
from guardian.keys import KeyRecord
from guardian.pii import EMAIL, IBAN, PAYMENT_CARD, PERSONNUMMER, PHONE_NUMBER, Redactor, find_pii, valid_personnummer
from guardian.policy import GuardRequest, ProtectPii, parse_pii_kinds, parse_pii_modes


def pnr(nine: str) -> str:
    """Nine digits (yymmdd + serial) with their Luhn check digit."""
    return nine + luhn.calc_check_digit(nine)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.type, s.value) for s in find_pii(text)]


def test_personnummer_and_samordningsnummer_in_every_layout() -> None:
    ten = pnr("850709238")
    assert kinds(f"mitt personnummer är {ten[:6]}-{ten[6:]}") == [(PERSONNUMMER, f"{ten[:6]}-{ten[6:]}")]
    assert kinds(f"pnr 19{ten}, tack") == [(PERSONNUMMER, f"19{ten}")]
    assert kinds(f"pnr {ten}") == [(PERSONNUMMER, ten)]
    assert kinds(f"född 19{ten[:6]}-{ten[6:]}") == [(PERSONNUMMER, f"19{ten[:6]}-{ten[6:]}")]
    samordning = pnr("850769238")  # day 09 + 60
    assert kinds(f"samordningsnummer {samordning[:6]}-{samordning[6:]}")[0][0] == PERSONNUMMER
    assert valid_personnummer(pnr("580090239"))  # month and day unknown: 00 and 60


def test_look_alikes_are_left_alone() -> None:
    bad_check = pnr("850709238")[:-1] + str((int(pnr("850709238")[-1]) + 1) % 10)
    assert kinds(f"ordernummer {bad_check[:6]}-{bad_check[6:]}") == []
    assert not valid_personnummer(pnr("851309238"))  # month 13
    assert not valid_personnummer(pnr("850709000"))  # serial 000 is never issued
    org = pnr("556036079")  # an organisation number: Luhn holds, but month 60 is no date
    assert kinds(f"Organisationsnumret är {org[:6]}-{org[6:]}.") == []
    assert kinds("Möte kl 14:00 den 2025-09-12 i rum 4411.") == []
    assert kinds("kostar 1 234 567 kronor") == []


def test_phone_email_iban_and_card() -> None:
    text = (
        "Ring 070-174 06 12 eller +46 70 174 06 05, mejla anna.berg@example.se, "
        "betala till SE45 5000 0000 0583 9825 7466 med kortet 4111 1111 1111 1111."
    )
    assert kinds(text) == [
        (PHONE_NUMBER, "070-174 06 12"),
        (PHONE_NUMBER, "+46 70 174 06 05"),
        (EMAIL, "anna.berg@example.se"),
        (IBAN, "SE45 5000 0000 0583 9825 7466"),
        (PAYMENT_CARD, "4111 1111 1111 1111"),
    ]
    assert kinds("kortet 4111 1111 1111 1112") == []  # Luhn fails
    assert kinds("konto SE45 5000 0000 0583 9825 7467") == []  # IBAN check digits fail


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("kort 4111 1111 1111 1111 123", PAYMENT_CARD, "4111 1111 1111 1111"),
        ("kortet 4111 1111 1111 1111 12/27", PAYMENT_CARD, "4111 1111 1111 1111"),
        ("kortet 4111111111111111.", PAYMENT_CARD, "4111111111111111"),
        ("betala till SE45 5000 0000 0583 9825 7466 500 kr", IBAN, "SE45 5000 0000 0583 9825 7466"),
        ("betala till SE45 5000 0000 0583 9825 7466 SEK", IBAN, "SE45 5000 0000 0583 9825 7466"),
        ("SE4550000000058398257466 2025", IBAN, "SE4550000000058398257466"),
    ],
)
def test_a_number_followed_by_more_digits_or_a_word_is_still_found(text: str, kind: str, value: str) -> None:
    # the candidates are greedy; a failed check of the longer run must not hide the number at its start
    assert kinds(text) == [(kind, value)]


def test_a_personnummer_is_not_also_a_phone_number() -> None:
    ten = pnr("060825981")  # 060… also looks like a Sundsvall number
    assert kinds(f"personnummer {ten}") == [(PERSONNUMMER, ten)]


def test_redaction_tokens_are_stable_within_a_request() -> None:
    redactor = Redactor()
    text = "ring 070-174 06 12, inte 070-174 06 20, och sen 0701740612 igen; mejla A@Example.se eller a@example.se"
    assert redactor.redact(text) == (
        "ring [TELEFONNUMMER_1], inte [TELEFONNUMMER_2], och sen [TELEFONNUMMER_1] igen; "
        "mejla [E-POST_1] eller [E-POST_1]"
    )
    assert redactor.counts() == {PHONE_NUMBER: 3, EMAIL: 2}
    assert Redactor().redact("inget känsligt här") == "inget känsligt här"


def _request(tenant: str, message: str, **extra: object) -> GuardRequest:
    body = json.dumps({"message": message, **extra}).encode()
    key = KeyRecord(id="k1", tenant=tenant, role="user", hash="x", created_at="2026-01-01T00:00:00Z")
    return GuardRequest("POST", "/api/chat", {}, body, key=key, chat=parse_chat(body))


def test_the_step_redacts_the_forwarded_body_blocks_by_tenant_and_counts() -> None:
    seen: list[tuple[str, str, int]] = []
    step = ProtectPii("redact", parse_pii_modes("strict=block, lab=off"), on_found=lambda *a: seen.append(a))
    request = _request("acme", "mejla svar till eva@example.se", stream=True)
    asyncio.run(step(request))
    assert json.loads(request.body) == {"message": "mejla svar till [E-POST_1]", "stream": True}
    assert request.pii == {EMAIL: 1} and seen == [(EMAIL, "redacted", 1)]
    blocked = _request("strict", "ring 070-174 06 12")
    with pytest.raises(PolicyDeniedError) as refused:
        asyncio.run(step(blocked))
    assert refused.value.code == "pii_blocked" and refused.value.extra["kinds"] == [PHONE_NUMBER]
    assert "070" not in refused.value.detail
    untouched = _request("lab", "ring 070-174 06 12")
    before = untouched.body
    asyncio.run(step(untouched))
    assert untouched.body == before
    clean = _request("acme", "vad är klockan")
    asyncio.run(step(clean))
    assert clean.body == json.dumps({"message": "vad är klockan"}).encode() and clean.pii == {}


def test_pii_modes_and_kinds_parse_or_stop_start_up() -> None:
    assert parse_pii_modes("") == {} and parse_pii_modes("a=block, b=off") == {"a": "block", "b": "off"}
    with pytest.raises(Exception, match="tenant=redact"):
        parse_pii_modes("a=maybe")
    assert parse_pii_kinds("personnummer, IBAN") == (PERSONNUMMER, IBAN)
    with pytest.raises(Exception, match="SSN unknown"):
        parse_pii_kinds("SSN")


def test_only_the_configured_kinds_are_touched() -> None:
    step = ProtectPii("redact", kinds=(PERSONNUMMER,))
    ten = pnr("850709238")
    request = _request("acme", f"mejla eva@example.se mitt nummer {ten}")
    asyncio.run(step(request))
    assert json.loads(request.body)["message"] == "mejla eva@example.se mitt nummer [PERSONNUMMER_1]"


@pytest.mark.parametrize("value", ["a@b.se", "08-123456", "0701740612", "850709-2388", "SE4550000000058398257466"])
def test_a_message_at_the_guardians_limit_still_fits_the_orchestrator_once_redacted(value: str) -> None:
    from orchestrator.schemas import DEFAULT_MAX_MESSAGE_CHARS

    message = " ".join([value] * (4000 // (len(value) + 1)))
    redacted = Redactor("SE").redact(message)
    assert value not in redacted  # every copy was replaced
    assert len(message) <= 4000 and len(redacted) <= DEFAULT_MAX_MESSAGE_CHARS
