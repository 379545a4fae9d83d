"""The request id: read from ``X-Request-ID`` (or made), bound for logs, forwarded to every downstream call."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

_request_id: ContextVar[str | None] = ContextVar("alice_request_id", default=None)


def new_request_id() -> str:
    """A fresh request id (32 hex characters)."""
    return uuid.uuid4().hex


def accept_request_id(incoming: str | None) -> str:
    """The caller's id when it is safe to echo and log, else a fresh one."""
    if incoming and _SAFE.match(incoming):
        return incoming
    return new_request_id()


def current_request_id() -> str | None:
    """The id of the request being handled in this context, if any."""
    return _request_id.get()


def set_request_id(value: str | None) -> object:
    """Bind ``value`` for this context; returns a token for :func:`reset_request_id`."""
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    """Undo :func:`set_request_id`."""
    _request_id.reset(token)  # type: ignore[arg-type]
