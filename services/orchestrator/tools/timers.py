"""Timers: ``timer.set`` (start, add/subtract time, pause, resume), ``timer.cancel`` and ``timer.status``.

State lives in Redis, never in the tool objects, so a timer outlives an orchestrator restart and every replica
sees the same timers. Each timer stores absolute times (epoch seconds), so nothing has to tick.

Layout (prefix ``alice:timer:``): one hash per user, ``alice:timer:<tenant>:<user>`` (both parts
percent-encoded, so ``a:b`` + ``c`` and ``a`` + ``b:c`` never share a key), field = timer id, value = JSON
``{"id", "label", "duration_s", "created", "ends_at", "left_s"}``. A running timer has ``ends_at``; a paused one
has ``left_s`` instead. The hash expires an hour after its last timer rang (paused timers keep it 7 days), so a
user who never asks again leaves nothing behind. Every change is a WATCH/MULTI read-modify-write of that one
hash, retried when another replica wrote in between: the limit of timers per user holds across replicas.

Semantics:

- A timer that has rung stays an hour so ``timer.status`` can say "ringde 14:05"; status reports it once and
  removes it. It does not count against the limit and cannot be changed or cancelled.
- Which timer a command means: the one named ("pastatimern", "timern för pastan", "timern som heter pizza"),
  the one of a given length ("avbryt 5 minuters timer"), all ("alla"), or, with none of these, the only one
  that fits (pause: the only running one; resume: the only paused one; add/subtract/cancel: the only active
  one). Several that fit and nothing to choose between them: the tool asks which (``ok=False``) rather than
  guess.
- "lägg till 2 minuter på timern" moves the end (or, paused, the time left) 2 minutes later; "dra av" moves it
  earlier, but never to or past now: that is refused ("har bara 1 minut kvar"), as is a result over 24 hours.
  The timer keeps the length it was set with, which is how it is named ("timern på 5 minuter").
- A label names one active timer: starting a second "pasta" timer is refused.

Answers name a labelled timer "timern för <label>" (grammatical for any label; a compound like "pastatimern"
needs morphology the label does not carry) and an unlabelled one "timern på <duration>".
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, Field, ValidationError
from redis.asyncio import Redis
from redis.exceptions import WatchError

from orchestrator.tools.base import ToolArgumentsError, ToolContext, ToolResult

PREFIX = "alice:timer:"
MAX_TIMERS = 20
MIN_DURATION_S = 1.0
MAX_DURATION_S = 24 * 3600.0
RUNG_KEEP_S = 3600  # how long a rung timer is kept for status to report
PAUSED_KEEP_S = 7 * 24 * 3600
WATCH_RETRIES = 16

Action = Literal["start", "add", "subtract", "pause", "resume"]
T = TypeVar("T")
ArgsT = TypeVar("ArgsT", bound=BaseModel)


class TimerRefusal(Exception):
    """A user-facing failure: ``answer`` is the Swedish explanation, ``code`` goes to ``ToolResult.error``."""

    def __init__(self, code: str, answer: str) -> None:
        super().__init__(code)
        self.code = code
        self.answer = answer


# -- Swedish text -------------------------------------------------------------------------------------------
_FOLD = str.maketrans("åäöéèëêüáàóòíìñæøç", "aaoeeeeuaaooiinaoc")


def fold(text: str) -> str:
    """Lower case without diacritics, same length as ``text`` (offsets stay valid)."""
    lowered = text.lower()
    return (lowered if len(lowered) == len(text) else text).translate(_FOLD)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def swedish_join(parts: Sequence[str]) -> str:
    """``a``, ``a och b``, ``a, b och c``."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " och " + parts[-1]


def format_duration(seconds: float) -> str:
    """Swedish duration, whole seconds rounded up: "5 minuter", "1 timme och 30 minuter", "45 sekunder"."""
    total = max(0, math.ceil(seconds - 1e-6))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(_plural(hours, "timme", "timmar"))
    if minutes:
        parts.append(_plural(minutes, "minut", "minuter"))
    if secs or not parts:
        parts.append(_plural(secs, "sekund", "sekunder"))
    return swedish_join(parts)


def format_clock(epoch: float, now: datetime) -> str:
    """ "14:05", or "i morgon 08:00" / "i går 23:55" when the day differs from ``now``'s (in ``now``'s zone)."""
    zone: tzinfo | None = now.tzinfo
    at = datetime.fromtimestamp(epoch, zone)
    days = (at.date() - now.date()).days
    prefix = {0: "", 1: "i morgon ", -1: "i går "}.get(days, at.strftime("%Y-%m-%d "))
    return f"{prefix}{at:%H:%M}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- labels -------------------------------------------------------------------------------------------------
_STEM_SUFFIXES = ("arnas", "ernas", "ornas", "arna", "erna", "orna", "ets", "ens", "ans", "et", "en", "an", "ns")
_STOP = frozenset(
    # determiners, pronouns, prepositions, adverbs
    "en ett den det denna detta de dom min mitt mina din ditt dina var vart vara er ert alla varje ny nya nagon "
    "nagot nagra vilken vilket vilka sin sitt forsta andra sista pa till fran for med i av om at och att har ar "
    "kvar klar klara igang igen nu tack inte langre snart innan bort upp ut ner sa da nar hur vad lange me e "
    "fortfarande redan ocksa bara direkt genast just dar har aktiv aktiva "
    "mig dig jag du ingen "
    # verbs that come right before or after "timern"
    "satt satta sett setta stall starta start stoppa stopp avbryt pausa fortsatt ateruppta kolla visa radera "
    "avsluta nollstall glom oka minska forlang korta kor ringer ringde star stod kommit gatt blir ge ha cancela "
    "kill doda sluta "
    # English and the thing itself
    "the a my set cancel stop pause status timer timern timers timrar "
    # units
    "sekund sekunder sekunders minut minuter minuters timme timmar timmes kvart halvtimme".split()
)
_NAMED_RE = re.compile(r"\b(?:som heter|som kallas|med namnet|kallad)\s+(?P<l>[\w-]+(?:\s+[\w-]+){0,2})")
_COMPOUND_RE = re.compile(r"(?<![\w-])(?P<l>[a-z][\w]*?)-?timer(?:n|ns|s)?(?!\w)")
_FOR_RE = re.compile(r"\bfor\s+(?P<l>[\w-]+(?:\s+[\w-]+){0,2})")
_AFTER_RE = re.compile(r"\btimer(?:n)?\s+(?P<l>[\w-]+)\s*(?:$|med\b|[?.!,])")
_IN_RE = re.compile(r"\btimer(?:n)?\s+i\s+(?P<l>[\w-]+)")
# "pausa pizza timer", "från pizza timer": the word before the name must be a command word or preposition
_BEFORE_RE = re.compile(r"(?<![\w-])(?P<pre>[\w-]+)\s+(?P<l>[\w-]+)\s+timer(?:n)?\b")
_UNIT_TAIL_RE = re.compile(r"(?:\d|timmes|timme|minuters|minuts|minut|sekunders|sekunds|sekund|tim|min)$")


def _words_until_stop(folded: str, start: int, end: int, original: str, free: Callable[[int, int], bool]) -> str | None:
    """The words of ``original[start:end]`` up to the first stop word, number or entity (None when the first
    word is one)."""
    words: list[str] = []
    for m in re.finditer(r"[\w-]+", folded[start:end]):
        if m.group() in _STOP or m.group().isdigit() or not free(start + m.start(), start + m.end()):
            break
        words.append(original[start + m.start() : start + m.end()].lower())
    return " ".join(words) or None


def extract_label(text: str, spans: Sequence[tuple[int, int]] = ()) -> str | None:
    """The timer's name in ``text``, or None: "som heter pizza", "pastatimern", "för pastan", "timern pizza",
    "timern i köket", "pizza timer". ``spans`` are (start, end) of duration entities, never part of a label."""
    folded = fold(text)

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in spans)

    m = _NAMED_RE.search(folded)
    if m and (label := _words_until_stop(folded, m.start("l"), m.end("l"), text, free)):
        return label
    for m in _COMPOUND_RE.finditer(folded):
        prefix = m.group("l").rstrip("-")
        if len(prefix) >= 2 and not _UNIT_TAIL_RE.search(prefix) and prefix not in _STOP:
            return text[m.start("l") : m.start("l") + len(prefix)].lower()
    for m in _FOR_RE.finditer(folded):
        if label := _words_until_stop(folded, m.start("l"), m.end("l"), text, free):
            return label
    for pattern in (_AFTER_RE, _IN_RE, _BEFORE_RE):
        for m in pattern.finditer(folded):
            word = m.group("l")
            if pattern is _BEFORE_RE and m.group("pre") not in _STOP:
                continue
            if word not in _STOP and not _UNIT_TAIL_RE.search(word) and free(m.start("l"), m.end("l")):
                return text[m.start("l") : m.end("l")].lower()
    return None


def _variants(word: str) -> set[str]:
    """``word`` with and without a Swedish ending, and with a final double consonant single ("tvätt" ~
    "tvät", as in "tvättimern")."""
    out = {word}
    for suffix in (*_STEM_SUFFIXES, "n", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            out.add(word[: -len(suffix)])
    return out | {w[:-1] for w in out if len(w) >= 3 and w[-1] == w[-2] and w[-1] not in "aeiouyao"}


def label_matches(wanted: str, label: str | None) -> bool:
    """Whether ``wanted`` (as said now) names the timer labelled ``label``: every word of ``wanted`` matches a
    word of ``label`` up to a Swedish ending ("pastan" ~ "pasta", "köket" ~ "köks", "tvätten" ~ "tvätt")."""
    if not label:
        return False
    have = [_variants(w) for w in re.findall(r"\w+", fold(label))]
    want = [_variants(w) for w in re.findall(r"\w+", fold(wanted))]
    return bool(want) and all(any(w & h for h in have) for w in want)


# -- commands -----------------------------------------------------------------------------------------------
_PAUSE_RE = re.compile(r"\b(?:pausa|paus|frys)")
_RESUME_RE = re.compile(r"\b(?:fortsatt|ateruppta|kor vidare|resume)")
_AGAIN_RE = re.compile(r"\b(?:igen|starta om)\b")
_ADD_NEAR_RE = re.compile(r"\b(?:lagg (?:till|pa)|plus)\s*$")
_ADD_RE = re.compile(r"\b(?:oka|forlang|mer tid)")
_SUB_NEAR_RE = re.compile(r"\b(?:(?:dra|ta) (?:av|bort)|minus)\s*$")
_SUB_RE = re.compile(r"\b(?:minska|korta|mindre tid)")
_MED_RE = re.compile(r"\bmed\s*$")
_ALL_RE = re.compile(r"\balla\b")


@dataclass(frozen=True)
class Duration:
    """A ``duration`` entity: seconds and where it stands in the text."""

    seconds: float
    start: int = -1


def durations_of(entities: Sequence[Mapping[str, Any]]) -> list[Duration]:
    """The ``duration`` entities (values in seconds), in text order."""
    out = []
    for e in entities:
        value = e.get("value")
        if e.get("type") == "duration" and isinstance(value, int | float) and not isinstance(value, bool):
            start = e.get("start")
            out.append(Duration(float(value), start if isinstance(start, int) else -1))
    return out


@dataclass(frozen=True)
class SetCommand:
    """What a timer.set message asks: the action, the amount (start: length; add/subtract: change) and which
    timer by length (``target_s``, for "dra av 5 minuter från timern på 1 timme")."""

    action: Action
    amount_s: float | None
    target_s: float | None = None


def parse_set(text: str, durations: Sequence[Duration]) -> SetCommand:
    """Read the action and amounts of a timer.set message (pure; durations as the NLU found them)."""
    folded = fold(text)
    near_add = [d for d in durations if d.start >= 0 and _ADD_NEAR_RE.search(folded[: d.start])]
    near_sub = [d for d in durations if d.start >= 0 and _SUB_NEAR_RE.search(folded[: d.start])]
    action: Action
    if near_sub or (durations and _SUB_RE.search(folded)):
        action = "subtract"
    elif near_add or (durations and _ADD_RE.search(folded)):
        action = "add"
    elif _PAUSE_RE.search(folded):
        return SetCommand("pause", None, durations[0].seconds if durations else None)
    elif _RESUME_RE.search(folded) or (not durations and _AGAIN_RE.search(folded)):
        return SetCommand("resume", None, durations[0].seconds if durations else None)
    else:
        return SetCommand("start", durations[0].seconds if durations else None)
    after_med = [d for d in durations if d.start >= 0 and _MED_RE.search(folded[: d.start])]
    amount = (near_sub or near_add or after_med or list(durations))[0]
    others = [d for d in durations if d is not amount]
    return SetCommand(action, amount.seconds, others[0].seconds if others else None)


def next_clock_time(value: str, now: datetime) -> float | None:
    """Seconds from ``now`` to the next "HH:MM" (a ``time`` entity), or None when it is not one."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    at = now.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=0, microsecond=0)
    if at <= now:
        at += timedelta(days=1)
    return (at - now).total_seconds()


# -- timers -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timer:
    """One timer as stored. Running: ``ends_at`` (epoch s); paused: ``left_s``."""

    id: str
    duration_s: float
    created: float
    ends_at: float | None
    left_s: float | None = None
    label: str | None = None

    @property
    def paused(self) -> bool:
        return self.ends_at is None

    def remaining(self, now: float) -> float:
        """Seconds left (0 when rung)."""
        if self.ends_at is None:
            return self.left_s or 0.0
        return max(0.0, self.ends_at - now)

    def rung(self, now: float) -> bool:
        return self.ends_at is not None and self.ends_at <= now

    def name(self) -> str:
        """How answers name it: "timern för pastan", "timern på 5 minuter"."""
        return f"timern för {self.label}" if self.label else f"timern på {format_duration(self.duration_s)}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "label": self.label,
                "duration_s": self.duration_s,
                "created": self.created,
                "ends_at": self.ends_at,
                "left_s": self.left_s,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Timer:
        d = json.loads(raw)
        return cls(
            id=str(d["id"]),
            duration_s=float(d["duration_s"]),
            created=float(d["created"]),
            ends_at=None if d.get("ends_at") is None else float(d["ends_at"]),
            left_s=None if d.get("left_s") is None else float(d["left_s"]),
            label=d.get("label") or None,
        )

    def describe(self, now: float, at: datetime) -> dict[str, Any]:
        """The timer for ``ToolResult.data``."""
        state = "paused" if self.paused else "rung" if self.rung(now) else "running"
        ends = None if self.ends_at is None else datetime.fromtimestamp(self.ends_at, at.tzinfo).isoformat()
        return {
            "id": self.id,
            "label": self.label,
            "name": self.name(),
            "duration_s": self.duration_s,
            "state": state,
            "remaining_s": round(self.remaining(now), 3),
            "ends_at": ends,
        }


def new_timer(duration_s: float, now: float, label: str | None = None) -> Timer:
    """A running timer of ``duration_s`` from ``now`` (limits checked)."""
    check_duration(duration_s)
    return Timer(secrets.token_hex(6), duration_s, now, now + duration_s, None, label)


def check_duration(seconds: float) -> None:
    """Refuse a length outside 1 s – 24 h."""
    if seconds < MIN_DURATION_S:
        raise TimerRefusal("duration_too_short", "En timer måste vara minst 1 sekund.")
    if seconds > MAX_DURATION_S:
        raise TimerRefusal("duration_too_long", "En timer kan vara högst 24 timmar.")


def adjusted(timer: Timer, delta_s: float, now: float) -> Timer:
    """``timer`` moved ``delta_s`` later (negative: earlier). Refused when it would ring now or earlier, or
    would have more than 24 hours left; the set length (its name) stays."""
    left = timer.remaining(now) + delta_s
    if left < MIN_DURATION_S:
        raise TimerRefusal(
            "would_ring",
            f"{_cap(timer.name())} har bara {format_duration(timer.remaining(now))} kvar, så jag kan inte dra av "
            f"{format_duration(-delta_s)}.",
        )
    if left > MAX_DURATION_S:
        raise TimerRefusal("duration_too_long", "En timer kan ha högst 24 timmar kvar.")
    if timer.paused:
        return replace(timer, left_s=left)
    return replace(timer, ends_at=now + left)


def paused(timer: Timer, now: float) -> Timer:
    """``timer`` paused with its time left."""
    return timer if timer.paused else replace(timer, ends_at=None, left_s=timer.remaining(now))


def resumed(timer: Timer, now: float) -> Timer:
    """``timer`` running again from ``now``."""
    return replace(timer, ends_at=now + timer.remaining(now), left_s=None) if timer.paused else timer


def select(timers: Sequence[Timer], label: str | None, duration_s: float | None) -> list[Timer]:
    """The timers named by ``label`` and/or set to ``duration_s``; all of them when neither is given."""
    out = list(timers)
    if label:
        out = [t for t in out if label_matches(label, t.label)]
    if duration_s is not None:
        out = [t for t in out if abs(t.duration_s - duration_s) < 0.5]
    return out


def _brief(timer: Timer, now: float) -> str:
    if timer.paused:
        return f"{timer.name()} (pausad, {format_duration(timer.remaining(now))} kvar)"
    return f"{timer.name()} ({format_duration(timer.remaining(now))} kvar)"


def only_one(candidates: Sequence[Timer], active: Sequence[Timer], label: str | None, now: float) -> Timer:
    """The single timer meant, or a refusal saying there is none or asking which."""
    if len(candidates) == 1:
        return candidates[0]
    if not active:
        raise TimerRefusal("no_timer", "Du har ingen timer igång.")
    listing = swedish_join([_brief(t, now) for t in active])
    if not candidates:
        what = f"för {label}" if label else "som passar"
        raise TimerRefusal("timer_not_found", f"Jag hittar ingen timer {what}. Du har {listing}.")
    listing = swedish_join([_brief(t, now) for t in candidates])
    raise TimerRefusal("ambiguous_timer", f"Du har {len(candidates)} timrar: {listing}. Vilken menar du?")


def sort_key(now: float) -> Callable[[Timer], tuple[int, float]]:
    """Rung first, then running by time left, then paused."""
    return lambda t: (0 if t.rung(now) else 2 if t.paused else 1, t.remaining(now))


# -- Redis --------------------------------------------------------------------------------------------------
def timer_key(tenant: str, user: str) -> str:
    """The user's hash: ``alice:timer:<tenant>:<user>``, parts percent-encoded."""
    return f"{PREFIX}{quote(tenant, safe='')}:{quote(user, safe='')}"


@dataclass
class TimerChange(Generic[T]):
    """What a change does to the user's timers (timers to write, ids to delete) and what it returns."""

    result: T
    put: list[Timer] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)


class TimerStore:
    """The timers of every user in Redis (see the module docstring for the layout)."""

    def __init__(self, redis: Redis, max_timers: int = MAX_TIMERS) -> None:
        # redis-py types replies as ``bytes | str`` unions (``decode_responses`` decides at run time); this
        # client never decodes, so replies are bytes and are decoded here, explicitly.
        self.redis: Any = redis
        self.max_timers = max_timers

    async def timers(self, tenant: str, user: str) -> list[Timer]:
        """Every stored timer of the user (rung ones included)."""
        return self._decode(await self.redis.hgetall(timer_key(tenant, user)))

    @staticmethod
    def _decode(raw: Mapping[bytes, bytes]) -> list[Timer]:
        out = []
        for value in raw.values():
            try:
                out.append(Timer.from_json(value))
            except (KeyError, TypeError, ValueError):
                continue  # not one of ours: ignored, never fatal
        return out

    async def change(self, tenant: str, user: str, now: float, fn: Callable[[list[Timer]], TimerChange[T]]) -> T:
        """Apply ``fn`` to the user's timers atomically (WATCH/MULTI, retried on a concurrent write). Timers
        that rang more than an hour ago are dropped on the way. A :class:`TimerRefusal` from ``fn`` writes
        nothing and propagates."""
        key = timer_key(tenant, user)
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(WATCH_RETRIES):
                try:
                    await pipe.watch(key)
                    timers = self._decode(await pipe.hgetall(key))
                    stale = [t.id for t in timers if t.ends_at is not None and t.ends_at + RUNG_KEEP_S <= now]
                    change = fn([t for t in timers if t.id not in stale])
                    delete = sorted(set(change.delete) | set(stale))
                    if change.put or delete:
                        kept = {t.id: t for t in timers if t.id not in delete} | {t.id: t for t in change.put}
                        pipe.multi()
                        if delete:
                            pipe.hdel(key, *delete)
                        if change.put:
                            pipe.hset(key, mapping={t.id: t.to_json() for t in change.put})
                        if kept:
                            pipe.expire(key, self._ttl(kept.values(), now))
                        await pipe.execute()
                    else:
                        await pipe.unwatch()
                    return change.result
                except WatchError:
                    continue
        raise TimerRefusal("busy", "Timrarna ändrades samtidigt från flera håll. Försök igen.")

    @staticmethod
    def _ttl(timers: Any, now: float) -> int:
        ttl = 1.0
        for t in timers:
            ttl = max(ttl, PAUSED_KEEP_S if t.ends_at is None else t.ends_at - now + RUNG_KEEP_S)
        return math.ceil(ttl)

    async def clear(self, tenant: str, user: str) -> None:
        """Remove every timer of the user."""
        await self.redis.delete(timer_key(tenant, user))


# -- tools --------------------------------------------------------------------------------------------------
def _coerce(model: type[ArgsT], args: BaseModel) -> ArgsT:
    """``args`` validated as ``model`` (again when it is one: ``model_construct`` skips validation)."""
    try:
        return model.model_validate(args.model_dump())
    except ValidationError as exc:
        raise ToolArgumentsError(f"{model.__name__}: {exc}") from None


def _label_and_spans(ctx: ToolContext) -> tuple[str | None, list[Duration]]:
    durations = durations_of(ctx.entities)
    spans = [
        (int(e["start"]), int(e["end"]))
        for e in ctx.entities
        if e.get("type") in ("duration", "number", "time") and isinstance(e.get("start"), int)
    ]
    return extract_label(ctx.text, spans), durations


def _result(name: str, args: BaseModel, answer: str, data: dict[str, Any]) -> ToolResult:
    return ToolResult(name=name, args=args.model_dump(), data=data, answer=answer)


def _refused(name: str, args: BaseModel, refusal: TimerRefusal) -> ToolResult:
    return ToolResult(name=name, args=args.model_dump(), data={}, answer=refusal.answer, ok=False, error=refusal.code)


class TimerSetArgs(BaseModel):
    """Arguments of ``TimerSet``."""

    action: Action = "start"
    duration_s: float | None = Field(
        default=None, gt=0, description="start: timerns längd; add/subtract: ändringen (sekunder, 1–86400)"
    )
    label: str | None = Field(default=None, max_length=60, description="timerns namn, t.ex. 'pastan'")
    target_duration_s: float | None = Field(
        default=None, gt=0, description="välj timern efter längden den sattes på (sekunder)"
    )


class TimerSet:
    """``timer.set``: start a timer, or add/subtract time, pause or resume one."""

    name: ClassVar[str] = "timer.set"
    description: ClassVar[str] = (
        "Starta en timer (action=start, duration_s krävs), lägg till eller dra av tid på en timer "
        "(add/subtract, duration_s = ändringen), eller pausa/återuppta en timer. label namnger timern."
    )
    timeout_s: ClassVar[float] = 1.0
    Args: ClassVar[type[BaseModel]] = TimerSetArgs

    def __init__(self, store: TimerStore) -> None:
        self.store = store

    def args_from_context(self, ctx: ToolContext) -> TimerSetArgs | None:
        label, durations = _label_and_spans(ctx)
        command = parse_set(ctx.text, durations)
        amount = command.amount_s
        if command.action == "start" and amount is None:
            clock = next((v for v in ctx.entity_values("time") if isinstance(v, str)), None)
            amount = next_clock_time(clock, ctx.now) if clock else None
        if command.action in ("start", "add", "subtract") and amount is None:
            return None
        return TimerSetArgs(action=command.action, duration_s=amount, label=label, target_duration_s=command.target_s)

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        a = _coerce(TimerSetArgs, args)
        if a.action in ("start", "add", "subtract") and a.duration_s is None:
            raise ToolArgumentsError(f"timer.set action={a.action} needs duration_s")
        now = ctx.now.timestamp()
        try:
            change = self._start(a, ctx.now) if a.action == "start" else self._modify(a, ctx.now)
            answer, timer = await self.store.change(ctx.tenant, ctx.user, now, change)
        except TimerRefusal as refusal:
            return _refused(self.name, a, refusal)
        return _result(self.name, a, answer, {"action": a.action, "timer": timer.describe(now, ctx.now)})

    def _start(self, a: TimerSetArgs, at: datetime) -> Callable[[list[Timer]], TimerChange[tuple[str, Timer]]]:
        assert a.duration_s is not None  # noqa: S101 - checked by run
        duration, now = a.duration_s, at.timestamp()

        def fn(timers: list[Timer]) -> TimerChange[tuple[str, Timer]]:
            timer = new_timer(duration, now, a.label)
            active = [t for t in timers if not t.rung(now)]
            if len(active) >= self.store.max_timers:
                raise TimerRefusal(
                    "too_many_timers",
                    f"Du har redan {len(active)} timrar igång, och fler än {self.store.max_timers} går inte. "
                    "Avbryt någon först.",
                )
            if a.label and (same := select(active, a.label, None)):
                raise TimerRefusal(
                    "duplicate_label",
                    f"Du har redan {_brief(same[0], now)}. Vill du ändra den eller ta ett annat namn?",
                )
            answer = f"Okej, {timer.name()} är satt" if a.label else "Okej, en timer är satt"
            answer += f" på {format_duration(duration)}. Den ringer {format_clock(now + duration, at)}."
            return TimerChange((answer, timer), put=[timer])

        return fn

    def _modify(self, a: TimerSetArgs, at: datetime) -> Callable[[list[Timer]], TimerChange[tuple[str, Timer]]]:
        now = at.timestamp()

        def fn(timers: list[Timer]) -> TimerChange[tuple[str, Timer]]:
            active = [t for t in timers if not t.rung(now)]
            candidates = select(active, a.label, a.target_duration_s)
            if a.action == "pause" and len(candidates) > 1:
                candidates = [t for t in candidates if not t.paused] or candidates
            if a.action == "resume" and len(candidates) > 1:
                candidates = [t for t in candidates if t.paused] or candidates
            timer = only_one(candidates, active, a.label, now)
            name = _cap(timer.name())
            if a.action == "pause":
                done = paused(timer, now)
                verb = "är redan pausad" if timer.paused else "är pausad"
                answer = f"{name} {verb} med {format_duration(done.remaining(now))} kvar."
            elif a.action == "resume":
                done = resumed(timer, now)
                verb = "var redan igång" if not timer.paused else "är igång igen"
                when = format_clock(now + done.remaining(now), at)
                answer = f"{name} {verb} och ringer {when} ({format_duration(done.remaining(now))} kvar)."
            else:
                assert a.duration_s is not None  # noqa: S101 - checked by run
                delta = a.duration_s if a.action == "add" else -a.duration_s
                done = adjusted(timer, delta, now)
                did = "lagt till" if delta > 0 else "dragit av"
                prep = "på" if delta > 0 else "från"
                answer = (
                    f"Jag har {did} {format_duration(abs(delta))} {prep} {timer.name()}. "
                    f"Den har nu {format_duration(done.remaining(now))} kvar."
                )
            return TimerChange((answer, done), put=[done] if done != timer else [])

        return fn


class TimerCancelArgs(BaseModel):
    """Arguments of ``TimerCancel``."""

    label: str | None = Field(default=None, max_length=60, description="timerns namn")
    duration_s: float | None = Field(default=None, gt=0, description="längden timern sattes på (sekunder)")
    all: bool = Field(default=False, description="avbryt alla timrar")


class TimerCancel:
    """``timer.cancel``: stop one timer (by label, by length, or the only one) or all of them."""

    name: ClassVar[str] = "timer.cancel"
    description: ClassVar[str] = "Avbryt en timer (efter namn eller längd, eller den enda som går) eller alla."
    timeout_s: ClassVar[float] = 1.0
    Args: ClassVar[type[BaseModel]] = TimerCancelArgs

    def __init__(self, store: TimerStore) -> None:
        self.store = store

    def args_from_context(self, ctx: ToolContext) -> TimerCancelArgs:
        label, durations = _label_and_spans(ctx)
        every = bool(_ALL_RE.search(fold(ctx.text)))
        return TimerCancelArgs(label=label, duration_s=durations[0].seconds if durations else None, all=every)

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        a = _coerce(TimerCancelArgs, args)
        now = ctx.now.timestamp()

        def fn(timers: list[Timer]) -> TimerChange[list[Timer]]:
            active = sorted((t for t in timers if not t.rung(now)), key=sort_key(now))
            rung = [t.id for t in timers if t.rung(now)]
            if a.all and not a.label and a.duration_s is None:
                if not active:
                    raise TimerRefusal("no_timer", "Du har ingen timer igång.")
                return TimerChange(active, delete=[t.id for t in active] + rung)
            candidates = select(active, a.label, a.duration_s)
            gone = candidates if a.all and candidates else [only_one(candidates, active, a.label, now)]
            return TimerChange(gone, delete=[t.id for t in gone])

        try:
            gone = await self.store.change(ctx.tenant, ctx.user, now, fn)
        except TimerRefusal as refusal:
            return _refused(self.name, a, refusal)
        if len(gone) == 1:
            answer = f"{_cap(gone[0].name())} är avbruten."
        else:
            answer = f"Jag har avbrutit {len(gone)} timrar: {swedish_join([t.name() for t in gone])}."
        return _result(self.name, a, answer, {"cancelled": [t.describe(now, ctx.now) for t in gone]})


class TimerStatusArgs(BaseModel):
    """Arguments of ``TimerStatus``."""

    label: str | None = Field(default=None, max_length=60, description="bara timern med det här namnet")
    duration_s: float | None = Field(default=None, gt=0, description="bara timern som sattes på den längden")


class TimerStatus:
    """``timer.status``: time left on each timer; timers that have rung are reported once and removed."""

    name: ClassVar[str] = "timer.status"
    description: ClassVar[str] = "Hur lång tid som är kvar på användarens timrar (eller på en viss timer)."
    timeout_s: ClassVar[float] = 1.0
    Args: ClassVar[type[BaseModel]] = TimerStatusArgs

    def __init__(self, store: TimerStore) -> None:
        self.store = store

    def args_from_context(self, ctx: ToolContext) -> TimerStatusArgs:
        label, durations = _label_and_spans(ctx)
        return TimerStatusArgs(label=label, duration_s=durations[0].seconds if durations else None)

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        a = _coerce(TimerStatusArgs, args)
        now = ctx.now.timestamp()

        def fn(timers: list[Timer]) -> TimerChange[tuple[list[Timer], bool]]:
            shown = select(timers, a.label, a.duration_s)
            filtered = bool(shown) and (a.label is not None or a.duration_s is not None)
            shown = sorted(shown or timers, key=sort_key(now))
            return TimerChange((shown, filtered), delete=[t.id for t in shown if t.rung(now)])

        try:
            shown, filtered = await self.store.change(ctx.tenant, ctx.user, now, fn)
        except TimerRefusal as refusal:
            return _refused(self.name, a, refusal)
        data = {"timers": [t.describe(now, ctx.now) for t in shown]}
        if not shown:
            return _result(self.name, a, "Du har ingen timer igång.", data)
        lines = [self._line(t, now, ctx.now) for t in shown]
        if (a.label or a.duration_s is not None) and not filtered:
            what = f"för {a.label}" if a.label else f"på {format_duration(a.duration_s or 0)}"
            lines.insert(0, f"Jag hittar ingen timer {what}.")
        elif len(shown) > 1:
            lines.insert(0, f"Du har {len(shown)} timrar.")
        return _result(self.name, a, " ".join(lines), data)

    @staticmethod
    def _line(timer: Timer, now: float, at: datetime) -> str:
        name = _cap(timer.name())
        if timer.rung(now):
            return f"{name} ringde {format_clock(timer.ends_at or now, at)}."
        left = format_duration(timer.remaining(now))
        if timer.paused:
            return f"{name} är pausad med {left} kvar."
        return f"{name} har {left} kvar (ringer {format_clock(timer.ends_at or now, at)})."


def timer_tools(redis: Redis, max_timers: int = MAX_TIMERS) -> tuple[TimerSet, TimerCancel, TimerStatus]:
    """The three timer tools over one shared :class:`TimerStore`."""
    store = TimerStore(redis, max_timers)
    return TimerSet(store), TimerCancel(store), TimerStatus(store)
