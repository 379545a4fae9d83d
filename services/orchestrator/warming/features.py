"""What the next-intent model sees about one moment of a session, as a row of numbers.

A *moment* is the state of a session right after an answer: the tenant, the session's last intents (newest
first), when the answer was given, how many requests the session has had and how long the user waited between
its last two requests (its pace). The model predicts the intent of the session's next request from it.

Features (:meth:`FeatureSpec.names` lists them):

- **Time of day on golden-ratio periods**: sine and cosine of the Stockholm time of day at the harmonics 1, 2, 3,
  5 and 8 of the day — periods of 24, 12, 8, 4.8 and 3 hours, consecutive Fibonacci numbers, so each period is
  the previous one shrunk by a ratio that tends to φ (2, 1.5, 1.67, 1.6). Literal periods of 24 h·φ⁻ᵏ were not
  used: they do not divide the day, so the same clock time would get different values on different days and
  the model would learn the date instead of the time of day. The week: one sine/cosine pair and a weekend flag.
- **The previous intents in the session**: one-hot per position (the last, the one before, the one before
  that), with ``<start>`` where the session is shorter.
- **Tenant**: one-hot over the tenants seen in training (the most frequent :data:`MAX_TENANTS`), ``<other>``
  for the rest.
- **Session shape**: requests so far (capped at 13, scaled to 0–1) and log(1 + pace in seconds).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

DAY_S = 86_400
WEEK_DAYS = 7
#: Harmonics of the day (Fibonacci numbers): periods 24, 12, 8, 4.8 and 3 hours.
DAY_HARMONICS: tuple[int, ...] = (1, 2, 3, 5, 8)
#: How many previous intents of the session the model sees.
HISTORY = 3
START = "<start>"
OTHER_TENANT = "<other>"
#: The intent recorded when the NLU could not read a message.
NO_INTENT = "none"
MAX_TENANTS = 34
MAX_TURN = 13
#: A gap longer than this ends a session (clients that send no session id use one per API key).
SESSION_GAP_S = 1800.0
TIMEZONE = "Europe/Stockholm"


@dataclass(frozen=True)
class Moment:
    """A session right after an answer: what the model knows when it predicts the next request's intent."""

    tenant: str
    #: The session's intents, newest first (at most :data:`HISTORY` are used).
    history: tuple[str, ...]
    ts: float
    turn: int = 1
    pace_s: float = 0.0


@dataclass(frozen=True)
class FeatureSpec:
    """The vocabularies a model was trained with; turns moments into rows the same way at training and serving."""

    intents: tuple[str, ...]
    tenants: tuple[str, ...]
    harmonics: tuple[int, ...] = DAY_HARMONICS
    history: int = HISTORY
    timezone: str = TIMEZONE
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    @classmethod
    def fit(cls, moments: Iterable[Moment], targets: Iterable[str] = ()) -> FeatureSpec:
        """The vocabularies of some training moments (intents from histories and targets; the most frequent
        tenants)."""
        intents: set[str] = set(targets)
        tenants: Counter[str] = Counter()
        for moment in moments:
            intents.update(moment.history)
            tenants[moment.tenant] += 1
        intents.discard(START)
        top = sorted(t for t, _n in tenants.most_common(MAX_TENANTS))
        return cls(intents=tuple(sorted(intents)), tenants=tuple(top))

    def names(self) -> list[str]:
        """The name of every column, in order."""
        time_names = [f"day_{fn}{h}" for h in self.harmonics for fn in ("sin", "cos")]
        time_names += ["week_sin", "week_cos", "weekend"]
        tokens = (START, *self.intents)
        history = [f"prev{k + 1}={token}" for k in range(self.history) for token in tokens]
        tenants = [f"tenant={t}" for t in (*self.tenants, OTHER_TENANT)]
        return [*time_names, *history, *tenants, "turn", "log_pace"]

    @property
    def width(self) -> int:
        """Columns per row."""
        return 2 * len(self.harmonics) + 3 + self.history * (len(self.intents) + 1) + len(self.tenants) + 3

    def time_features(self, ts: float) -> list[float]:
        """Sine/cosine of the local time of day at each harmonic, of the week, and the weekend flag."""
        local = datetime.fromtimestamp(ts, self._zone)
        day = (local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6) / DAY_S
        out: list[float] = []
        for h in self.harmonics:
            angle = 2 * math.pi * h * day
            out += [math.sin(angle), math.cos(angle)]
        week = 2 * math.pi * (local.weekday() + day) / WEEK_DAYS
        return [*out, math.sin(week), math.cos(week), 1.0 if local.weekday() >= 5 else 0.0]

    def row(self, moment: Moment) -> np.ndarray:
        """One moment as a row of :attr:`width` floats."""
        out = np.zeros(self.width, dtype=np.float32)
        t = self.time_features(moment.ts)
        out[: len(t)] = t
        base = len(t)
        block = len(self.intents) + 1
        index = {intent: i + 1 for i, intent in enumerate(self.intents)}
        for k in range(self.history):
            token = moment.history[k] if k < len(moment.history) else START
            # an intent unseen in training reads as "no history" rather than shifting the columns
            out[base + k * block + index.get(token, 0)] = 1.0
        base += self.history * block
        tenant_at = self.tenants.index(moment.tenant) if moment.tenant in self.tenants else len(self.tenants)
        out[base + tenant_at] = 1.0
        base += len(self.tenants) + 1
        out[base] = min(max(moment.turn, 0), MAX_TURN) / MAX_TURN
        out[base + 1] = math.log1p(max(moment.pace_s, 0.0))
        return out

    def matrix(self, moments: Sequence[Moment]) -> np.ndarray:
        """Rows for many moments (shape ``(len(moments), width)``)."""
        if not moments:
            return np.zeros((0, self.width), dtype=np.float32)
        return np.vstack([self.row(m) for m in moments])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (stored beside the model)."""
        return {
            "intents": list(self.intents),
            "tenants": list(self.tenants),
            "harmonics": list(self.harmonics),
            "history": self.history,
            "timezone": self.timezone,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        """The spec :meth:`to_json` wrote."""
        return cls(
            intents=tuple(str(i) for i in data["intents"]),
            tenants=tuple(str(t) for t in data["tenants"]),
            harmonics=tuple(int(h) for h in data["harmonics"]),
            history=int(data["history"]),
            timezone=str(data["timezone"]),
        )
