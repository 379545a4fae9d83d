"""Drafts the user downloads and sends (or not) himself: ``calendar.create_draft`` writes an iCalendar event
(.ics), ``email.create_draft`` an RFC 5322 message (.eml). Alice never sends anything.

A draft is stored through the :class:`DraftStore` port (Redis in production: ``alice:draft:<tenant>:<id>``,
24 h, size-limited) and the answer links to ``/api/drafts/<id>``, which the orchestrator serves to the same
tenant. Titles, subjects and bodies are read from the message with plain Swedish heuristics; the planner can
always pass better arguments.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, ClassVar, Final, NamedTuple, Protocol, TypeVar

from icalendar import Calendar, Event, vCalAddress
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.tools.base import STOCKHOLM, Attachment, ToolArgumentsError, ToolContext, ToolResult
from orchestrator.tools.swedish import MONTHS_SV, WEEKDAYS_SV

DRAFT_KEY_PREFIX: Final = "alice:draft:"
DRAFT_TTL_S: Final = 24 * 3600
DRAFT_MAX_BYTES: Final = 256 * 1024
DOWNLOAD_PREFIX: Final = "/api/drafts/"
ICS_MEDIA_TYPE: Final = "text/calendar"
EML_MEDIA_TYPE: Final = "message/rfc822"
#: Thunderbird's placeholder for an attendee without an e-mail address (CAL-ADDRESS must be a URI).
NO_ADDRESS: Final = "invalid:nomail"


M = TypeVar("M", bound=BaseModel)

_DRAFT_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")
_EMAIL_RE: Final = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")


# --- storage ----------------------------------------------------------------------------------------------


class Draft(NamedTuple):
    """A stored draft: what the download route sends back."""

    filename: str
    media_type: str
    content: bytes


class DraftStoreError(Exception):
    """The store could not save or read a draft (Redis down, …)."""


class DraftTooLargeError(DraftStoreError):
    """The draft is larger than the store accepts."""


class DraftStore(Protocol):
    """Where drafts wait for their download, scoped by tenant."""

    async def put(self, tenant: str, user: str, filename: str, media_type: str, content: bytes) -> str:
        """Store a draft; returns its id (URL-safe, unguessable). Raises :class:`DraftStoreError`."""
        ...

    async def get(self, tenant: str, draft_id: str) -> Draft | None:
        """The tenant's draft with that id, or None (unknown, expired, another tenant's)."""
        ...


class RedisDraftStore:
    """Drafts as Redis hashes ``alice:draft:<tenant>:<id>`` (filename, media_type, user, content) with a TTL,
    shared by every orchestrator replica."""

    def __init__(self, redis: Redis, *, ttl_s: int = DRAFT_TTL_S, max_bytes: int = DRAFT_MAX_BYTES) -> None:
        if ttl_s < 1 or max_bytes < 1:
            raise ValueError("ttl_s and max_bytes must be positive")
        self._redis = redis
        self._ttl_s = ttl_s
        self._max_bytes = max_bytes

    @staticmethod
    def key(tenant: str, draft_id: str) -> str:
        """The Redis key of one draft."""
        return f"{DRAFT_KEY_PREFIX}{tenant}:{draft_id}"

    async def put(self, tenant: str, user: str, filename: str, media_type: str, content: bytes) -> str:
        """Store a draft for ``ttl_s``; raises :class:`DraftTooLargeError` or :class:`DraftStoreError`."""
        if len(content) > self._max_bytes:
            raise DraftTooLargeError(f"draft of {len(content)} bytes exceeds {self._max_bytes}")
        draft_id = secrets.token_urlsafe(16)
        key = self.key(tenant, draft_id)
        fields = {"filename": filename, "media_type": media_type, "user": user, "content": content}
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]  # redis-py accepts bytes values
                pipe.expire(key, self._ttl_s)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise DraftStoreError("could not store the draft") from exc
        return draft_id

    async def get(self, tenant: str, draft_id: str) -> Draft | None:
        """The draft, or None; an id that could not have been issued is not looked up."""
        if not _DRAFT_ID_RE.fullmatch(draft_id):
            return None
        try:
            raw = await self._redis.hgetall(self.key(tenant, draft_id))
        except (RedisError, OSError) as exc:
            raise DraftStoreError("could not read the draft") from exc
        values = {_text(k): v for k, v in raw.items()}
        if not {"filename", "media_type", "content"} <= values.keys():
            return None
        content = values["content"]
        body = content if isinstance(content, bytes) else str(content).encode()
        return Draft(_text(values["filename"]), _text(values["media_type"]), body)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _save(
    store: DraftStore, ctx: ToolContext, filename: str, media_type: str, content: bytes
) -> Attachment | tuple[str, str]:
    """Store the draft: its attachment, or (error code, Swedish answer) when the store refused it."""
    try:
        draft_id = await store.put(ctx.tenant, ctx.user, filename, media_type, content)
    except DraftTooLargeError:
        return "draft_too_large", "Utkastet blev för stort för att sparas. Försök med en kortare text."
    except DraftStoreError:
        return "draft_store_unavailable", "Jag kunde inte spara utkastet just nu. Försök igen om en stund."
    return Attachment(url=f"{DOWNLOAD_PREFIX}{draft_id}", filename=filename, media_type=media_type)


# --- shared text helpers ----------------------------------------------------------------------------------


def slug(text: str, fallback: str = "utkast") -> str:
    """A file-name-safe ASCII slug: "Möte med Anna" → "mote-med-anna"."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:40].strip("-") or fallback


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _entity_spans(text: str, entities: Sequence[Mapping[str, Any]], kinds: set[str]) -> list[tuple[int, int]]:
    """Where the entities of ``kinds`` are in ``text`` (their offsets, or their text found again)."""
    spans = []
    for e in entities:
        if e.get("type") not in kinds:
            continue
        start, end, surface = e.get("start"), e.get("end"), str(e.get("text") or "")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            if not surface or text[start:end] == surface:
                spans.append((start, end))
                continue
        found = text.casefold().find(surface.casefold()) if surface else -1
        if found >= 0:
            spans.append((found, found + len(surface)))
    return spans


def _first_name(name: str) -> str:
    return name.split()[0] if name.split() else name


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()


def pair_recipients(names: Sequence[str], emails: Sequence[str]) -> list[str]:
    """Names and addresses as recipients; a name whose first name is in an address's local part goes with it
    ("Anna", "anna.berg@x.se" → "Anna <anna.berg@x.se>")."""
    out: list[str] = []
    unpaired = [n for i, n in enumerate(names) if n and n.casefold() not in {m.casefold() for m in names[:i]}]
    for addr in dict.fromkeys(e.strip().lower() for e in emails if e and e.strip()):
        local = _fold(addr.split("@")[0])
        match = next((n for n in unpaired if _fold(_first_name(n)) in local), None)
        if match is not None:
            unpaired.remove(match)
            out.append(f"{match} <{addr}>")
        else:
            out.append(addr)
    return out + unpaired


def split_recipient(value: str) -> tuple[str, str]:
    """(name, address) of "Anna <anna@x.se>", "anna@x.se" or "Anna"; either may be empty."""
    value = _one_line(value)
    if "@" not in value:
        return value, ""
    name, addr = parseaddr(value)
    return name.strip(), addr.strip()


def _valid_recipient(value: str) -> str:
    value = _one_line(value)
    _, addr = split_recipient(value)
    if "@" in value and not _EMAIL_RE.fullmatch(addr):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def _name_from_address(addr: str) -> str:
    """ "anna.berg@x.se" → "Anna Berg"; the address itself when its local part does not look like a name."""
    parts = re.split(r"[._-]", addr.split("@")[0])
    return " ".join(p.capitalize() for p in parts) if all(p.isalpha() for p in parts) else addr


def swedish_day(day: dt.date, today: dt.date | None = None) -> str:
    """ "onsdag 4 mars" (the year added when it is not ``today``'s)."""
    text = f"{WEEKDAYS_SV[day.weekday()]} {day.day} {MONTHS_SV[day.month - 1]}"
    return text if today is None or day.year == today.year else f"{text} {day.year}"


# --- calendar.create_draft --------------------------------------------------------------------------------

_CAL_FILLER: Final = frozenset(
    "kan du snälla hej alice jag vi vill måste ska skulle behöver boka bokar omboka lägg lägga in till skapa gör "
    "göra planera planerar schemalägg schemalägga sätt sätta upp ett en nytt ny mig oss åt reservera flytta "
    "ändra kalender kalendern på".split()
)
_CAL_HEADERS: Final = _CAL_FILLER | {"event", "händelse", "kalenderhändelse", "aktivitet"}
_CAL_TRAILING: Final = frozenset("kl klockan på den om i till för vid från och mellan med ca cirka runt".split())
_CALENDAR_WORDS_RE: Final = re.compile(r"\b(?:i|till|in i)\s+(?:min\s+|vår\s+)?kalender(?:n)?\b", re.IGNORECASE)
_PLACE_PREPOSITION_RE: Final = re.compile(r"\b(?:i|på|vid|till|från|utanför)\s*$", re.IGNORECASE)


def calendar_title(text: str, entities: Sequence[Mapping[str, Any]] = ()) -> str:
    """The event's title from the message: "boka möte med Anna imorgon kl 14" → "Möte med Anna"."""
    chars = list(text)
    for start, end in _entity_spans(text, entities, {"date", "time", "duration", "place"}):
        prep = _PLACE_PREPOSITION_RE.search(text[:start])
        if prep is not None and any(e.get("type") == "place" and e.get("start") == start for e in entities):
            start = prep.start()
        chars[start:end] = [" "] * (end - start)
    for start, end in _entity_spans(text, entities, {"email"}):  # "med anna.berg@x.se" → "med Anna Berg"
        name = _name_from_address(text[start:end])
        chars[start:end] = list(name.ljust(end - start))
    rest = _CALENDAR_WORDS_RE.sub(" ", "".join(chars))
    head, colon, tail = rest.partition(": ")
    if colon and tail.strip() and all(t.casefold() in _CAL_HEADERS for t in head.split()):
        rest = tail
    tokens = [t.strip(",.!?;:\"'()") for t in rest.split()]
    tokens = [t for t in tokens if t and t.casefold() not in {"kl", "klockan"}]
    while tokens and tokens[0].casefold() in _CAL_FILLER:
        tokens.pop(0)
    while tokens and tokens[-1].casefold() in _CAL_TRAILING:
        tokens.pop()
    title = " ".join(tokens)[:80].strip()
    return _capitalise(title) if title else "Möte"


class CalendarDraftArgs(BaseModel):
    """Arguments of ``calendar.create_draft``."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="Rubrik, t.ex. 'Möte med Anna'.")
    start: dt.datetime = Field(description="Start (ISO 8601); utan tidszon räknas Europe/Stockholm.")
    duration_minutes: int = Field(default=60, ge=1, le=24 * 60, description="Längd i minuter.")
    attendees: list[str] = Field(
        default_factory=list, max_length=50, description="Deltagare: namn, e-postadress eller 'Namn <adress>'."
    )
    location: str | None = Field(default=None, max_length=200, description="Plats.")

    @field_validator("title", "location")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        return None if value is None else _one_line(value) or None

    @field_validator("start")
    @classmethod
    def _in_stockholm(cls, value: dt.datetime) -> dt.datetime:
        return value.replace(tzinfo=STOCKHOLM) if value.tzinfo is None else value.astimezone(STOCKHOLM)

    @field_validator("attendees")
    @classmethod
    def _recipients(cls, values: list[str]) -> list[str]:
        return [_valid_recipient(v) for v in values if v.strip()]

    @property
    def end(self) -> dt.datetime:
        """Start plus duration, as wall-clock time in Stockholm."""
        return (self.start + dt.timedelta(minutes=self.duration_minutes)).astimezone(STOCKHOLM)


def build_ics(args: CalendarDraftArgs, *, uid: str, stamp: dt.datetime) -> bytes:
    """One VEVENT in a VCALENDAR with the Europe/Stockholm VTIMEZONE its TZID needs."""
    attendees = []
    for entry in args.attendees:
        name, addr = split_recipient(entry)
        attendee = vCalAddress(f"mailto:{addr}" if addr else NO_ADDRESS)
        if name:
            attendee.params["CN"] = name
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
        attendee.params["PARTSTAT"] = "NEEDS-ACTION"
        attendees.append(attendee)
    names = [split_recipient(a)[0] or split_recipient(a)[1] for a in args.attendees]
    description = "Utkast från Alice. Kontrollera tid och deltagare innan du sparar eller skickar inbjudan."
    if names:
        description += "\nDeltagare: " + ", ".join(names) + "."
    event = Event.new(
        uid=uid,
        stamp=stamp.astimezone(dt.UTC),
        start=args.start,
        end=args.end,
        summary=args.title,
        description=description,
        location=args.location,
        attendees=attendees or None,
    )
    calendar = Calendar.new(prodid="-//Alice//Kalenderutkast//SV", subcomponents=[event])
    calendar.add_missing_timezones(
        first_date=dt.date(args.start.year, 1, 1), last_date=dt.date(args.end.year + 1, 12, 31)
    )
    return bytes(calendar.to_ical())


def _next(at: dt.time, now: dt.datetime) -> dt.datetime:
    """The next ``at`` in Stockholm after ``now`` (wall-clock, without a time zone)."""
    local = now.astimezone(STOCKHOLM).replace(tzinfo=None)
    start = dt.datetime.combine(local.date(), at)
    return start if start > local else start + dt.timedelta(days=1)


def _when(start: dt.datetime, end: dt.datetime, today: dt.date) -> str:
    if start.date() == end.date():
        return f"{swedish_day(start.date(), today)} kl {start:%H:%M}–{end:%H:%M}"
    return f"{swedish_day(start.date(), today)} kl {start:%H:%M} – {swedish_day(end.date(), today)} kl {end:%H:%M}"


class CalendarDraftTool:
    """``calendar.create_draft``: an .ics event to download; no invitation is sent."""

    name: ClassVar[str] = "calendar.create_draft"
    description: ClassVar[str] = "Gör ett kalenderutkast (.ics) för ett möte eller en händelse. Skickar inget."
    Args: ClassVar[type[BaseModel]] = CalendarDraftArgs
    timeout_s: ClassVar[float] = 2.0

    def __init__(self, store: DraftStore) -> None:
        self._store = store

    def args_from_context(self, ctx: ToolContext) -> CalendarDraftArgs | None:
        """Date and time entities make the start; a time without a day is its next occurrence (today while it is
        ahead, else tomorrow; the answer names the day), a day without a time asks (None). Duration, people,
        place and title from the other entities."""
        dates, times = ctx.entity_values("date"), ctx.entity_values("time")
        if not times:
            return None
        try:
            at = dt.time.fromisoformat(str(times[0]))
            start = dt.datetime.combine(dt.date.fromisoformat(str(dates[0])), at) if dates else _next(at, ctx.now)
        except ValueError as exc:
            raise ToolArgumentsError(f"calendar.create_draft: bad date or time entity: {exc}") from exc
        durations = [d for d in ctx.entity_values("duration") if isinstance(d, int | float) and d > 0]
        places = [p for p in ctx.entity_values("place") if isinstance(p, str)]
        people = [str(p) for p in ctx.entity_values("person") if p]
        try:
            return CalendarDraftArgs(
                title=calendar_title(ctx.text, ctx.entities),
                start=start.replace(tzinfo=STOCKHOLM),
                duration_minutes=math.ceil(durations[0] / 60) if durations else 60,
                attendees=pair_recipients(people, [str(e) for e in ctx.entity_values("email")]),
                location=places[0] if places else None,
            )
        except ValidationError as exc:
            raise ToolArgumentsError(f"calendar.create_draft: {exc.errors()[0]['msg']}") from exc

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        """Build the .ics, store it, answer with the link."""
        a = _coerce(args, CalendarDraftArgs, self.name)
        result_args = a.model_dump(mode="json")
        content = build_ics(a, uid=f"{uuid.uuid4()}@alice", stamp=ctx.now)
        saved = await _save(self._store, ctx, f"{slug(a.title)}.ics", ICS_MEDIA_TYPE, content)
        if isinstance(saved, tuple):
            return ToolResult(self.name, result_args, {}, saved[1], ok=False, error=saved[0])
        where = f" i {a.location}" if a.location else ""
        when = _when(a.start, a.end, ctx.now.astimezone(STOCKHOLM).date())
        answer = f'Jag har gjort ett utkast till mötet "{a.title}" {when}{where}. Ladda ner det här: {saved.url}'
        data = {
            "draft_id": saved.url.removeprefix(DOWNLOAD_PREFIX),
            "url": saved.url,
            "filename": saved.filename,
            "title": a.title,
            "start": a.start.isoformat(),
            "end": a.end.isoformat(),
            "attendees": list(a.attendees),
        }
        return ToolResult(self.name, result_args, data, answer, attachments=(saved,))


# --- email.create_draft -----------------------------------------------------------------------------------

_MAIL_WORD: Final = r"(?:e-?mail|e-?post|e-postmeddelande|mail|mejl|maila|mejla|mailet|mejlet|e-posta)"
_STOP: Final = r"(?:att|om|och|med|via|på|angående|ang)"
#: "maila min chef att …", "mejl till kundtjänst om …", "svara Karin via …": up to four words before a stop word.
_RECIPIENT_RE: Final = re.compile(
    rf"\b(?:{_MAIL_WORD}\s+(?:till\s+)?|svara\s+|skriv\s+till\s+)(?!{_STOP}\b)"
    rf"(?P<r>\S+(?:\s+(?!{_STOP}\b)\S+){{0,3}}?)(?=\s+{_STOP}\b|\s*$)",
    re.IGNORECASE,
)
_TELL: Final = r"(?:säg|berätta|skriv|meddela)"
_CONTENT_RULES: Final = (
    # (pattern, kind); the first rule that matches wins
    (re.compile(r"\w:\s+(?P<x>.+)", re.I), "say"),  # "mail till Anders: kommer 10 min sent" (not "14:30")
    (re.compile(rf"\boch\s+{_TELL}(?:\s+(?:henne|honom|dem))?(?:\s+att)?\s+(?P<x>.+)", re.I), "say"),
    (re.compile(r"\boch\s+tacka\s+för\s+(?P<x>.+)", re.I), "thanks"),
    (re.compile(r"\boch\s+fråga\s+(?:om\s+)?(?P<x>.+)", re.I), "ask"),
    (re.compile(r"\b(?:om\s+)?att\s+(?P<x>.+)", re.I), "say"),
    (re.compile(r"\b(?:om|angående|ang\.?)\s+(?P<x>.+)", re.I), "topic"),
    (re.compile(r"\bmed\s+(?P<x>.+)", re.I), "attach"),
)  # fmt: skip
_PRONOUNS: Final = frozenset("jag vi du ni han hon hen de den det man".split())
_ADVERBS: Final = frozenset("inte aldrig redan också nog alltid gärna kanske ändå".split())


def _main_clause(clause: str) -> str:
    """Subordinate to main word order for the common case: "jag inte kommer" → "jag kommer inte"."""
    words = clause.split()
    if len(words) >= 3 and words[0].casefold() in _PRONOUNS and words[1].casefold() in _ADVERBS:
        words[1], words[2] = words[2], words[1]
    return " ".join(words)


def _shorten(text: str, limit: int = 60) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def email_content(text: str, recipient: str = "") -> tuple[str, str] | None:
    """(subject, sentence) from the message, or None when it does not say what to write."""
    for pattern, kind in _CONTENT_RULES:
        match = pattern.search(text)
        if match is None:
            continue
        x = re.sub(r",\s*(?:tack|snälla)\W*$", "", match.group("x").strip(), flags=re.I).strip(" .!?,;:")
        if recipient:  # "om fakturan till Anna": the recipient is not part of the topic
            x = re.sub(rf"\s+till\s+{re.escape(recipient)}$", "", x, flags=re.I)
        if not x:
            continue
        if kind == "say":
            sentence = _capitalise(_main_clause(x))
            return _shorten(sentence), sentence + ("" if sentence.endswith(("?", "!")) else ".")
        if kind == "thanks":
            return _shorten(f"Tack för {x}"), f"Tack för {x}!"
        if kind == "ask":
            return "En fråga", f"Jag undrar om {x}."
        if kind == "topic":
            return _shorten(_capitalise(x)), f"Jag skriver angående {x}."
        return _shorten(_capitalise(x)), f"Här kommer {x}."
    return None


class EmailDraftArgs(BaseModel):
    """Arguments of ``email.create_draft``."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(
        default="", max_length=300, description="Mottagare: e-postadress, 'Namn <adress>' eller bara ett namn."
    )
    subject: str = Field(min_length=1, max_length=200, description="Ämnesrad.")
    body: str = Field(min_length=1, max_length=20_000, description="Brödtext på svenska.")

    @field_validator("to")
    @classmethod
    def _recipient(cls, value: str) -> str:
        return _valid_recipient(value)

    @field_validator("subject")
    @classmethod
    def _subject_line(cls, value: str) -> str:
        return _one_line(value)


def build_eml(args: EmailDraftArgs, *, now: dt.datetime) -> bytes:
    """An unsent message (``X-Unsent: 1`` makes mail programs open it as a draft); no From, the sender's
    program fills it in; no To when only a name is known."""
    msg = EmailMessage(policy=policy.SMTP)
    name, addr = split_recipient(args.to)
    if addr:
        local, _, domain = addr.rpartition("@")
        msg["To"] = Address(display_name=name, username=local, domain=domain)
    msg["Subject"] = args.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain="alice.invalid")
    msg["X-Unsent"] = "1"
    msg.set_content(args.body)
    return msg.as_bytes()


class EmailDraftTool:
    """``email.create_draft``: an .eml message to download; nothing is sent."""

    name: ClassVar[str] = "email.create_draft"
    description: ClassVar[str] = "Gör ett mejlutkast (.eml) till någon. Skickar inget."
    Args: ClassVar[type[BaseModel]] = EmailDraftArgs
    timeout_s: ClassVar[float] = 2.0

    def __init__(self, store: DraftStore) -> None:
        self._store = store

    def args_from_context(self, ctx: ToolContext) -> EmailDraftArgs | None:
        """Recipient from an e-mail or person entity (or the words after "mejla"); None without content."""
        people = [str(p) for p in ctx.entity_values("person") if p]
        emails = [str(e) for e in ctx.entity_values("email") if e]
        recipients = pair_recipients(people[:1], emails[:1]) if emails else people[:1]
        if not recipients and (found := _RECIPIENT_RE.search(ctx.text)) is not None:
            recipients = [found.group("r").strip(" ,.")]
        to = recipients[0] if recipients else ""
        spoken = next((e.get("text") for e in ctx.entities if e.get("type") in {"person", "email"}), "")
        content = email_content(ctx.text, str(spoken or to))
        if content is None:
            return None
        subject, sentence = content
        name = people[0] if people and people[0] in to else (to if to[:1].isupper() and "@" not in to else "")
        greeting = f"Hej {_first_name(name)}!" if name else "Hej!"
        try:
            return EmailDraftArgs(to=to, subject=subject, body=f"{greeting}\n\n{sentence}\n\nVänliga hälsningar\n")
        except ValidationError as exc:
            raise ToolArgumentsError(f"email.create_draft: {exc.errors()[0]['msg']}") from exc

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        """Build the .eml, store it, answer with the link (and say when the To field is empty)."""
        a = _coerce(args, EmailDraftArgs, self.name)
        result_args = a.model_dump(mode="json")
        filename = f"{slug(a.subject, 'mejl')}.eml"
        saved = await _save(self._store, ctx, filename, EML_MEDIA_TYPE, build_eml(a, now=ctx.now))
        if isinstance(saved, tuple):
            return ToolResult(self.name, result_args, {}, saved[1], ok=False, error=saved[0])
        name, addr = split_recipient(a.to)
        answer = f'Jag har gjort ett utkast till mejlet "{a.subject}"'
        if addr:
            answer += f" till {a.to} (inget har skickats)."
        elif name:
            answer += f" till {name} (inget har skickats). Jag har ingen e-postadress till {name}, "
            answer += "så mottagarfältet är tomt."
        else:
            answer += " (inget har skickats). Mottagarfältet är tomt."
        answer += f" Ladda ner det här: {saved.url}"
        data = {
            "draft_id": saved.url.removeprefix(DOWNLOAD_PREFIX),
            "url": saved.url,
            "filename": saved.filename,
            "to": addr,
            "to_name": name,
            "subject": a.subject,
        }
        return ToolResult(self.name, result_args, data, answer, attachments=(saved,))


def _coerce(args: BaseModel, model: type[M], tool: str) -> M:
    if isinstance(args, model):
        return args
    try:
        return model.model_validate(args.model_dump())
    except ValidationError as exc:
        raise ToolArgumentsError(f"{tool}: {exc.errors()[0]['msg']}") from exc
