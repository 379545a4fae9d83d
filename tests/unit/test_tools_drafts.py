"""calendar.create_draft and email.create_draft: arguments read from the message, the .ics and .eml they write
(parsed back with icalendar and the standard e-mail parser), the answers, and a store that refuses.

The store is a fake of our own ``DraftStore`` port (a dict), as unit tests of pure logic may use."""

from __future__ import annotations

import datetime as dt
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from icalendar import Calendar
from pydantic import BaseModel

from orchestrator.tools.base import STOCKHOLM, ToolArgumentsError, ToolContext, json_schema
from orchestrator.tools.drafts import (
    CalendarDraftArgs,
    CalendarDraftTool,
    Draft,
    DraftStoreError,
    DraftTooLargeError,
    EmailDraftArgs,
    EmailDraftTool,
    calendar_title,
    email_content,
    pair_recipients,
    slug,
)

NOW = dt.datetime(2026, 3, 3, 10, 50, tzinfo=STOCKHOLM)  # Tuesday 3 March 2026


class MemoryDraftStore:
    """A dict behind the DraftStore port; ``fail`` makes ``put`` raise that error."""

    def __init__(self, fail: DraftStoreError | None = None) -> None:
        self.drafts: dict[tuple[str, str], tuple[str, Draft]] = {}
        self.fail = fail

    async def put(self, tenant: str, user: str, filename: str, media_type: str, content: bytes) -> str:
        if self.fail is not None:
            raise self.fail
        draft_id = f"draft{len(self.drafts):012d}"
        self.drafts[(tenant, draft_id)] = (user, Draft(filename, media_type, content))
        return draft_id

    async def get(self, tenant: str, draft_id: str) -> Draft | None:
        found = self.drafts.get((tenant, draft_id))
        return found[1] if found else None


def entity(kind: str, value: Any, text: str, surface: str | None = None) -> dict[str, Any]:
    """An NLU entity with offsets into ``text`` (``surface`` is what the user typed, default the value)."""
    surface = surface or str(value)
    start = text.index(surface)
    return {"type": kind, "value": value, "text": surface, "start": start, "end": start + len(surface)}


def ctx(text: str, *entities: dict[str, Any]) -> ToolContext:
    return ToolContext(tenant="acme", user="u1", text=text, now=NOW, entities=entities)


def meeting_ctx() -> ToolContext:
    text = "boka möte med Anna imorgon kl 14"
    return ctx(
        text,
        entity("person", "Anna", text),
        entity("date", "2026-03-04", text, "imorgon"),
        entity("time", "14:00", text, "kl 14"),
    )


async def stored(store: MemoryDraftStore, url: str) -> Draft:
    draft = await store.get("acme", url.removeprefix("/api/drafts/"))
    assert draft is not None
    return draft


# --- calendar ---------------------------------------------------------------------------------------------


def test_calendar_args_from_the_message() -> None:
    args = CalendarDraftTool(MemoryDraftStore()).args_from_context(meeting_ctx())
    assert args == CalendarDraftArgs(
        title="Möte med Anna",
        start=dt.datetime(2026, 3, 4, 14, tzinfo=STOCKHOLM),
        duration_minutes=60,
        attendees=["Anna"],
    )


def test_calendar_without_a_time_asks_and_a_time_without_a_day_is_the_next_one() -> None:
    tool = CalendarDraftTool(MemoryDraftStore())
    text = "boka möte med Anna imorgon"
    assert tool.args_from_context(ctx(text, entity("date", "2026-03-04", text, "imorgon"))) is None
    text = "boka möte med Anna kl 14"  # NOW is 10:50: later today
    args = tool.args_from_context(ctx(text, entity("time", "14:00", text, "kl 14")))
    assert args is not None and args.start == dt.datetime(2026, 3, 3, 14, tzinfo=STOCKHOLM)
    text = "boka möte med Anna kl 9"  # already past: tomorrow
    args = tool.args_from_context(ctx(text, entity("time", "09:00", text, "kl 9")))
    assert args is not None and args.start == dt.datetime(2026, 3, 4, 9, tzinfo=STOCKHOLM)


def test_calendar_duration_place_and_an_address_from_entities() -> None:
    text = "boka möte med Anna i Göteborg på fredag kl 9 i en och en halv timme, anna.berg@firma.se"
    args = CalendarDraftTool(MemoryDraftStore()).args_from_context(
        ctx(
            text,
            entity("person", "Anna", text),
            entity("place", "Göteborg", text),
            entity("date", "2026-03-06", text, "på fredag"),
            entity("time", "09:00", text, "kl 9"),
            entity("duration", 5400, text, "en och en halv timme"),
            entity("email", "anna.berg@firma.se", text),
        )
    )
    assert args is not None
    assert args.start == dt.datetime(2026, 3, 6, 9, tzinfo=STOCKHOLM)
    assert args.duration_minutes == 90
    assert args.location == "Göteborg"
    assert args.attendees == ["Anna <anna.berg@firma.se>"]
    assert args.title.startswith("Möte med Anna")
    assert "Göteborg" not in args.title and "fredag" not in args.title


def test_a_bad_date_entity_is_an_argument_error() -> None:
    text = "boka möte fredag kl 14"
    with pytest.raises(ToolArgumentsError):
        CalendarDraftTool(MemoryDraftStore()).args_from_context(
            ctx(text, entity("date", "fredag", text), entity("time", "14:00", text, "kl 14"))
        )


@pytest.mark.parametrize(
    ("text", "spans", "title"),
    [
        ("boka möte med Anna imorgon kl 14", [("date", "imorgon"), ("time", "kl 14")], "Möte med Anna"),
        ("boka tandläkare på fredag kl 9", [("date", "på fredag"), ("time", "kl 9")], "Tandläkare"),
        ("lägg in frisörtid på fredag halv tre", [("date", "på fredag"), ("time", "halv tre")], "Frisörtid"),
        ("kalenderhändelse: tandläkare 9:30 fredag", [("time", "9:30"), ("date", "fredag")], "Tandläkare"),
        ("lägg in ett event: bio lördag 20:00", [("date", "lördag"), ("time", "20:00")], "Bio"),
        ("boka in mig på yoga på lördag kl 10", [("date", "på lördag"), ("time", "kl 10")], "Yoga"),
        (
            "kan du boka in ett möte med styrelsen imorgon kl 9",
            [("date", "imorgon"), ("time", "kl 9")],
            "Möte med styrelsen",
        ),
        ("boka ett 30 minuters möte med Emil kl 10", [("duration", "30 minuters"), ("time", "kl 10")], "Möte med Emil"),
        (
            "lägg till en påminnelse i kalendern om att betala räkningar den 25 mars",
            [("date", "den 25 mars")],
            "Påminnelse om att betala räkningar",
        ),
        (
            "boka möte med anna.berg@firma.se imorgon",
            [("email", "anna.berg@firma.se"), ("date", "imorgon")],
            "Möte med Anna Berg",
        ),
        ("boka imorgon kl 14", [("date", "imorgon"), ("time", "kl 14")], "Möte"),
    ],
)
def test_calendar_titles(text: str, spans: list[tuple[str, str]], title: str) -> None:
    assert calendar_title(text, [entity(kind, surface, text) for kind, surface in spans]) == title


def test_entity_offsets_that_do_not_fit_the_text_are_found_again() -> None:
    entities = [{"type": "date", "value": "2026-03-04", "text": "imorgon", "start": 90, "end": 97}]
    assert calendar_title("boka lunch med Pia imorgon", entities) == "Lunch med Pia"


async def test_calendar_draft_ics() -> None:
    store = MemoryDraftStore()
    tool = CalendarDraftTool(store)
    args = CalendarDraftArgs(
        title="Möte med Anna",
        start=dt.datetime(2026, 3, 4, 14, 0),  # naive: Stockholm time
        attendees=["Anna", "Erik <erik@example.com>", "pia@example.com"],
        location="Göteborg",
    )
    result = await tool.run(args, meeting_ctx())
    assert result.ok, result
    (attachment,) = result.attachments
    assert attachment.url.startswith("/api/drafts/") and attachment.filename == "mote-med-anna.ics"
    assert attachment.media_type == "text/calendar"
    assert result.answer == (
        'Jag har gjort ett utkast till mötet "Möte med Anna" onsdag 4 mars kl 14:00–15:00 i Göteborg. '
        f"Ladda ner det här: {attachment.url}"
    )
    draft = await stored(store, attachment.url)
    assert draft.filename == attachment.filename
    calendar = Calendar.from_ical(draft.content)
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Stockholm"]
    (event,) = calendar.events
    assert event.start == dt.datetime(2026, 3, 4, 14, tzinfo=STOCKHOLM)
    assert event.end == dt.datetime(2026, 3, 4, 15, tzinfo=STOCKHOLM)
    assert isinstance(event.start, dt.datetime) and str(event.start.tzinfo) == "Europe/Stockholm"
    assert event["DTSTART"].params["TZID"] == "Europe/Stockholm"
    assert event.summary == "Möte med Anna"
    assert event.location == "Göteborg"
    assert event.uid.endswith("@alice")
    assert event.stamp is not None and event.stamp.utcoffset() == dt.timedelta(0)
    assert event.description is not None and "Anna, Erik, pia@example.com" in event.description
    attendees = [(str(a), a.params.get("CN")) for a in event.attendees]
    assert attendees == [
        ("invalid:nomail", "Anna"),
        ("mailto:erik@example.com", "Erik"),
        ("mailto:pia@example.com", None),
    ]
    assert "METHOD" not in calendar  # a draft, not an invitation


async def test_a_meeting_over_midnight_and_next_year() -> None:
    store = MemoryDraftStore()
    args = CalendarDraftArgs.model_validate(
        {"title": "Nyårsfest", "start": "2027-01-01T23:30:00+01:00", "duration_minutes": 90}
    )
    result = await CalendarDraftTool(store).run(args, meeting_ctx())
    assert "fredag 1 januari 2027 kl 23:30 – lördag 2 januari 2027 kl 01:00" in result.answer
    (event,) = Calendar.from_ical((await stored(store, result.attachments[0].url)).content).events
    assert event.end == dt.datetime(2027, 1, 2, 1, 0, tzinfo=STOCKHOLM)


async def test_summer_time_is_kept_in_stockholm() -> None:
    store = MemoryDraftStore()
    args = CalendarDraftArgs.model_validate({"title": "Lunch", "start": "2026-07-01T10:00:00Z"})
    result = await CalendarDraftTool(store).run(args, meeting_ctx())
    assert "onsdag 1 juli kl 12:00–13:00" in result.answer
    (event,) = Calendar.from_ical((await stored(store, result.attachments[0].url)).content).events
    assert event.start == dt.datetime(2026, 7, 1, 12, tzinfo=STOCKHOLM)
    assert isinstance(event.start, dt.datetime) and event.start.utcoffset() == dt.timedelta(hours=2)


@pytest.mark.parametrize(
    ("error", "code"),
    [(DraftTooLargeError("big"), "draft_too_large"), (DraftStoreError("down"), "draft_store_unavailable")],
)
async def test_a_store_that_refuses_is_a_swedish_failure(error: DraftStoreError, code: str) -> None:
    args = CalendarDraftTool(MemoryDraftStore()).args_from_context(meeting_ctx())
    assert args is not None
    result = await CalendarDraftTool(MemoryDraftStore(fail=error)).run(args, meeting_ctx())
    assert (result.ok, result.error, result.attachments) == (False, code, ())
    assert "utkastet" in result.answer.casefold()


@pytest.mark.parametrize(
    "bad",
    [
        {"title": "", "start": "2026-03-04T14:00"},
        {"title": "x", "start": "imorgon"},
        {"title": "x", "start": "2026-03-04T14:00", "duration_minutes": 0},
        {"title": "x", "start": "2026-03-04T14:00", "attendees": ["Anna <anna@>"]},
        {"title": "x", "start": "2026-03-04T14:00", "priority": 1},
    ],
)
def test_invalid_calendar_args_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CalendarDraftArgs.model_validate(bad)


async def test_run_checks_arguments_of_another_model() -> None:
    class Other(BaseModel):
        title: str = ""
        start: str = "2026-03-04T14:00"

    with pytest.raises(ToolArgumentsError):
        await CalendarDraftTool(MemoryDraftStore()).run(Other(), meeting_ctx())


# --- e-mail -----------------------------------------------------------------------------------------------


def parse_eml(content: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(content)
    assert isinstance(message, EmailMessage)
    return message


def test_email_args_with_a_name_only() -> None:
    text = "mejla till Annika att jag inte kommer"
    args = EmailDraftTool(MemoryDraftStore()).args_from_context(ctx(text, entity("person", "Annika", text)))
    assert args == EmailDraftArgs(
        to="Annika", subject="Jag kommer inte", body="Hej Annika!\n\nJag kommer inte.\n\nVänliga hälsningar\n"
    )


def test_email_args_with_an_address_and_a_topic() -> None:
    text = "skriv ett mail till anna@example.com om fakturan"
    args = EmailDraftTool(MemoryDraftStore()).args_from_context(ctx(text, entity("email", "anna@example.com", text)))
    assert args is not None
    assert (args.to, args.subject) == ("anna@example.com", "Fakturan")
    assert "Jag skriver angående fakturan." in args.body


def test_email_without_anything_to_say_asks() -> None:
    text = "skicka ett mejl till Anna"
    assert EmailDraftTool(MemoryDraftStore()).args_from_context(ctx(text, entity("person", "Anna", text))) is None


@pytest.mark.parametrize(
    ("text", "recipient", "expected"),
    [
        ("maila Erik och säg tack för igår", "Erik", ("Tack för igår", "Tack för igår.")),
        ("skriv ett mejl och tacka för intervjun", "", ("Tack för intervjun", "Tack för intervjun!")),
        ("maila hyresvärden att kranen läcker", "", ("Kranen läcker", "Kranen läcker.")),
        ("skicka ett mail till Bo om att jag är sjuk, tack", "Bo", ("Jag är sjuk", "Jag är sjuk.")),
        ("skriv ett mejl om fakturan till Anna", "Anna", ("Fakturan", "Jag skriver angående fakturan.")),
        ("skicka ett mail till Axel med agendan", "Axel", ("Agendan", "Här kommer agendan.")),
        ("skriv till Peter och fråga om han kan ta mötet", "Peter", ("En fråga", "Jag undrar om han kan ta mötet.")),
        ("mejla Siv: jag tar med kaffet", "Siv", ("Jag tar med kaffet", "Jag tar med kaffet.")),
        ("mejla Siv om mötet kl 14:30", "Siv", ("Mötet kl 14:30", "Jag skriver angående mötet kl 14:30.")),
        ("skriv ett mejl till Anna", "Anna", None),
    ],
)
def test_email_content(text: str, recipient: str, expected: tuple[str, str] | None) -> None:
    assert email_content(text, recipient) == expected


def test_recipients_pair_names_with_addresses() -> None:
    assert pair_recipients(["Anna Berg", "Erik"], ["anna.berg@firma.se"]) == ["Anna Berg <anna.berg@firma.se>", "Erik"]
    assert pair_recipients(["Åsa"], ["asa@x.se", "bo@x.se"]) == ["Åsa <asa@x.se>", "bo@x.se"]
    assert pair_recipients(["Anna", "anna"], []) == ["Anna"]


async def test_email_draft_to_an_address() -> None:
    store = MemoryDraftStore()
    args = EmailDraftArgs(to="Åsa Öberg <asa@example.com>", subject="Middag på lördag", body="Hej Åsa!\n\nKommer du?\n")
    result = await EmailDraftTool(store).run(args, meeting_ctx())
    assert result.ok, result
    (attachment,) = result.attachments
    assert (attachment.filename, attachment.media_type) == ("middag-pa-lordag.eml", "message/rfc822")
    assert result.answer == (
        'Jag har gjort ett utkast till mejlet "Middag på lördag" till Åsa Öberg <asa@example.com> '
        f"(inget har skickats). Ladda ner det här: {attachment.url}"
    )
    message = parse_eml((await stored(store, attachment.url)).content)
    assert message["To"] == "Åsa Öberg <asa@example.com>"
    assert message["To"].addresses[0].addr_spec == "asa@example.com"
    assert message["Subject"] == "Middag på lördag"
    assert message["Date"].datetime == NOW
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@alice.invalid>")
    assert message["X-Unsent"] == "1"
    assert message["From"] is None
    body = message.get_body(("plain",))
    assert body is not None and body.get_content() == "Hej Åsa!\r\n\r\nKommer du?\r\n"  # RFC 5322 line ends
    assert body.get_content_charset() == "utf-8"


async def test_email_draft_to_a_name_leaves_to_empty_and_says_so() -> None:
    store = MemoryDraftStore()
    result = await EmailDraftTool(store).run(EmailDraftArgs(to="Erik", subject="Tack", body="Tack!"), meeting_ctx())
    assert result.ok
    assert "Jag har ingen e-postadress till Erik, så mottagarfältet är tomt." in result.answer
    message = parse_eml((await stored(store, result.attachments[0].url)).content)
    assert message["To"] is None
    assert message["Subject"] == "Tack"


@pytest.mark.parametrize(
    "bad",
    [{"to": "a@b", "subject": "x", "body": "y"}, {"subject": "", "body": "y"}, {"subject": "x", "body": ""}],
)
def test_invalid_email_args_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EmailDraftArgs.model_validate(bad)


def test_a_subject_cannot_inject_headers() -> None:
    args = EmailDraftArgs(subject="Hej\r\nBcc: alla@example.com", body="x")
    assert args.subject == "Hej Bcc: alla@example.com"


def test_schemas_and_slugs() -> None:
    store = MemoryDraftStore()
    calendar = json_schema(CalendarDraftTool(store))
    assert calendar["name"] == "calendar.create_draft"
    assert set(calendar["parameters"]["required"]) == {"title", "start"}
    email = json_schema(EmailDraftTool(store))
    assert set(email["parameters"]["properties"]) == {"to", "subject", "body"}
    assert slug("Möte med Åsa & Örjan!") == "mote-med-asa-orjan"
    assert slug("!!!") == "utkast"
