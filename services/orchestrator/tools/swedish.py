"""Swedish calendar words the tools' answers share."""

from __future__ import annotations

from typing import Final

WEEKDAYS_SV: Final = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MONTHS_SV: Final = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip
