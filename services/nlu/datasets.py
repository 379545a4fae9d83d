"""Reading ``{"text", "intent"}`` rows, and mapping external label sets onto Alice's intents.

The Home Assistant map and the scenario map (``data/scenarios_map.json``, read by :func:`relabel_by_id`) are used
to measure Alice on ``../shared/data`` sets; the HA map also produced the HA rows in
``data/ha_intents_sv.jsonl`` (see ``data/ATTRIBUTION.md``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Row = dict[str, Any]

#: Home Assistant intent -> Alice intent. HassRespond mixes greetings, echo and FAQ, so it has no mapping.
HA_INTENT_MAP: dict[str, str] = {
    "HassGetCurrentTime": "time.now",
    "HassGetCurrentDate": "date.today",
    "HassGetWeather": "weather.lookup",
    "HassStartTimer": "timer.set",
    "HassIncreaseTimer": "timer.set",
    "HassDecreaseTimer": "timer.set",
    "HassPauseTimer": "timer.set",
    "HassUnpauseTimer": "timer.set",
    "HassCancelTimer": "timer.cancel",
    "HassCancelAllTimers": "timer.cancel",
    "HassTimerStatus": "timer.status",
    "HassShoppingListAddItem": "memory.store",
    "HassListAddItem": "memory.store",
    "HassNevermind": "smalltalk",
    **{
        name: "home.control"
        for name in (
            "HassTurnOn", "HassTurnOff", "HassLightSet", "HassSetPosition", "HassGetState",
            "HassClimateSetTemperature", "HassClimateGetTemperature", "HassSetVolume", "HassVacuumStart",
            "HassVacuumReturnToBase", "HassMediaNext", "HassMediaPrevious", "HassMediaPause",
            "HassMediaUnpause", "HassBroadcast",
        )
    },
}  # fmt: skip


class DataFileError(ValueError):
    """A data file that cannot be read as rows; the message names the file and line."""


def read_jsonl(path: Path) -> list[Row]:
    """All JSON objects in a JSON Lines file (blank lines skipped); :class:`DataFileError` names a bad line."""
    return [row for _, row in _numbered_rows(path)]


def _numbered_rows(path: Path) -> list[tuple[int, Row]]:
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    rows: list[tuple[int, Row]] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFileError(f"{path}: line {number} is not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DataFileError(f"{path}: line {number} is not a JSON object")
            rows.append((number, row))
    return rows


def read_intent_file(path: Path) -> list[Row]:
    """``{"text", "intent"}`` rows of ``path`` (other keys kept); :class:`DataFileError` names a bad line."""
    numbered = _numbered_rows(path)
    for number, row in numbered:
        for key in ("text", "intent"):
            value = row.get(key)
            if not isinstance(value, str) or not value.strip():
                raise DataFileError(f"{path}: line {number} has no {key!r} (a non-empty string)")
    if not numbered:
        raise DataFileError(f"{path}: no rows")
    return [row for _, row in numbered]


def intent_rows(rows: Iterable[Row]) -> list[Row]:
    """Only ``text`` and ``intent``, validated; raises ``ValueError`` naming the bad row."""
    out: list[Row] = []
    for i, row in enumerate(rows):
        text, intent = row.get("text"), row.get("intent")
        if not isinstance(text, str) or not text.strip() or not isinstance(intent, str) or not intent:
            raise ValueError(f"row {i}: expected non-empty 'text' and 'intent', got {row!r}")
        out.append({"text": text, "intent": intent})
    return out


def is_training_file(path: Path) -> bool:
    """Training files are ``*.jsonl`` except held-out evaluation files (``eval*.jsonl``, ``*.test.jsonl``)."""
    return path.suffix == ".jsonl" and not path.name.startswith("eval") and not path.name.endswith(".test.jsonl")


def load_training_rows(data_dir: Path) -> list[Row]:
    """Every training ``*.jsonl`` in ``data_dir`` (sorted by name; never ``eval*.jsonl`` or ``*.test.jsonl``)."""
    files = sorted(p for p in data_dir.glob("*.jsonl") if is_training_file(p))
    if not files:
        raise FileNotFoundError(f"no *.jsonl training files in {data_dir}")
    rows: list[Row] = []
    for path in files:
        rows.extend(intent_rows(read_jsonl(path)))
    return rows


def map_ha_rows(rows: Iterable[Row]) -> list[Row]:
    """Home Assistant rows with Alice labels; rows of unmapped intents (HassRespond) are dropped."""
    return [{"text": r["text"], "intent": HA_INTENT_MAP[r["intent"]]} for r in rows if r["intent"] in HA_INTENT_MAP]


def relabel_by_id(rows: Iterable[Row], labels: Iterable[Row]) -> list[Row]:
    """Rows of another label set (``{"id", "prompt"|"text", ...}``) as ``{"text","intent"}`` rows, labelled by a
    map ``[{"id","intent"}]`` written for Alice (``data/scenarios_map.json``). Rows without an entry are
    dropped; a map entry without a row is an error (the map and the data file do not belong together)."""
    by_id = {str(entry["id"]): str(entry["intent"]) for entry in labels}
    out: list[Row] = []
    seen: set[str] = set()
    for row in rows:
        rid = str(row.get("id", ""))
        text = row.get("text") or row.get("prompt")
        if rid in by_id and isinstance(text, str) and text.strip():
            out.append({"text": text, "intent": by_id[rid]})
            seen.add(rid)
    missing = sorted(set(by_id) - seen)
    if missing:
        raise DataFileError(f"{len(missing)} labelled ids have no row with text in the data: {', '.join(missing[:5])}")
    return out
