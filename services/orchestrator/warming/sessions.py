"""Telemetry events, the sessions they form, and the (moment → next intent) pairs the model learns from.

An :class:`Event` is one answered chat request as the telemetry recorder keeps it (``orchestrator.warming
.telemetry``): when, which tenant, which session (a hash, never the client's own id), the NLU's intent, the route
that answered, whether the cache answered, and — only for intents the cache may keep — the question as the
guardian redacted it. The same shape is one line of the JSONL files ``alice predict train --data`` reads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestrator.warming.features import HISTORY, NO_INTENT, SESSION_GAP_S, Moment


class EventFormatError(ValueError):
    """A telemetry line that is not an event (the message names the file and line)."""


@dataclass(frozen=True)
class Event:
    """One answered chat request."""

    ts: float
    tenant: str
    session: str
    intent: str
    route: str = ""
    hit: bool = False
    #: The redacted question, kept only for intents the cache may store (None otherwise).
    question: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object (one JSONL line)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Event:
        """An event from a JSON object; :class:`EventFormatError` when a field is missing or of the wrong type."""
        if not isinstance(data, dict):
            raise EventFormatError("not a JSON object")
        try:
            question = data.get("question")
            return cls(
                ts=float(data["ts"]),
                tenant=str(data["tenant"]),
                session=str(data["session"]),
                intent=str(data.get("intent") or NO_INTENT),
                route=str(data.get("route") or ""),
                hit=bool(data.get("hit", False)),
                question=str(question) if question else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EventFormatError(f"bad event ({type(exc).__name__}: {exc})") from None


def read_events(path: Path) -> list[Event]:
    """The events of a JSONL file; :class:`EventFormatError` naming the line of the first bad one."""
    events: list[Event] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                events.append(Event.from_json(json.loads(line)))
            except (json.JSONDecodeError, EventFormatError) as exc:
                raise EventFormatError(f"{path}:{number}: {exc}") from None
    return events


def sessions(events: Iterable[Event], gap_s: float = SESSION_GAP_S) -> list[list[Event]]:
    """The events grouped by (tenant, session) in time order, split where the user was away over ``gap_s``;
    sessions ordered by their first request."""
    grouped: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        grouped[(event.tenant, event.session)].append(event)
    out: list[list[Event]] = []
    for group in grouped.values():
        group.sort(key=lambda e: e.ts)
        current: list[Event] = []
        for event in group:
            if current and event.ts - current[-1].ts > gap_s:
                out.append(current)
                current = []
            current.append(event)
        out.append(current)
    out.sort(key=lambda s: (s[0].ts, s[0].tenant, s[0].session))
    return out


def moment_after(session: Sequence[Event], i: int) -> Moment:
    """The session right after its ``i``-th event was answered."""
    last = session[i]
    history = tuple(e.intent for e in reversed(session[max(0, i - HISTORY + 1) : i + 1]))
    pace = last.ts - session[i - 1].ts if i > 0 else 0.0
    return Moment(tenant=last.tenant, history=history, ts=last.ts, turn=i + 1, pace_s=pace)


def transitions(grouped: Iterable[Sequence[Event]]) -> list[tuple[Moment, str]]:
    """Every (moment after a request, the intent of the session's next request) pair."""
    return [(moment_after(s, i), s[i + 1].intent) for s in grouped for i in range(len(s) - 1)]
