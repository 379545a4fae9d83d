"""The ``Idempotency-Key`` header's name and form, checked where it enters (the guardian) and where it is used
(the orchestrator, ``orchestrator.idempotency``)."""

from __future__ import annotations

import re
from typing import Final

from alice.errors import ValidationFailedError

HEADER: Final = "Idempotency-Key"
KEY_RE: Final = re.compile(r"[\x21-\x7e]{1,255}")


def checked_key(raw: str) -> str:
    """The header's value, or 422 when it is not 1–255 visible ASCII characters."""
    if not KEY_RE.fullmatch(raw):
        raise ValidationFailedError(f"{HEADER} must be 1–255 visible ASCII characters (no spaces).")
    return raw
