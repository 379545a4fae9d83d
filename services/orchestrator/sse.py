"""Server-sent events framing (the WHATWG ``text/event-stream`` format), written out by hand.

An event is ``event: <name>`` and one ``data:`` line per line of its JSON data, ended by a blank line. JSON
from :func:`json.dumps` never holds a raw newline, but :func:`frame` splits on line breaks anyway so any data
stays one event.
"""

from __future__ import annotations

import json
import re
from typing import Any

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def frame(event: str, data: str) -> bytes:
    """One event with the text ``data`` (multi-line data becomes several ``data:`` lines)."""
    if not event or _LINE_BREAK.search(event):
        raise ValueError("event name must be one non-empty line")
    lines = [f"event: {event}"]
    lines.extend(f"data: {line}" for line in _LINE_BREAK.split(data))
    return ("\n".join(lines) + "\n\n").encode()


def json_event(event: str, payload: Any) -> bytes:
    """One event whose data is ``payload`` as compact JSON (non-ASCII kept as UTF-8)."""
    return frame(event, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


def parse(stream: str) -> list[tuple[str, str]]:
    """``(event, data)`` pairs of a complete event stream; for tests and clients (``message`` by default)."""
    events: list[tuple[str, str]] = []
    for block in re.split(r"(?:\r\n|\r|\n){2}", stream):
        name, data = "message", []
        for line in _LINE_BREAK.split(block):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((name, "\n".join(data)))
    return events
