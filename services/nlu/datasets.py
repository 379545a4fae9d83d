"""Reading ``{"text", "intent"}`` rows, and mapping external label sets onto Alice's intents.

The Home Assistant map and the scenario map are used to measure Alice on ``../shared/data`` sets; the HA map
also produced the HA rows in ``data/ha_intents_sv.jsonl`` (see ``data/ATTRIBUTION.md``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nlu.intents import OUT_OF_SCOPE

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

#: Upstream Alice v2 scenario vocabulary -> Alice intent (case-insensitive keys).
SCENARIO_INTENT_MAP: dict[str, str] = {
    "greeting.hello": "greeting.hello",
    "smalltalk.time": "time.now",
    "time.current": "time.now",
    "calendar.create": "calendar.create_draft",
    "calendar.move": "calendar.create_draft",
    "time.book": "calendar.create_draft",
    "email.send": "email.create_draft",
    "email.check": OUT_OF_SCOPE,
    "weather.today": "weather.lookup",
    "weather.current": "weather.lookup",
    "home.light.control": "home.control",
    "document.summarize": "info.query",
    "compound.multi_task": OUT_OF_SCOPE,
    "error.invalid_input": OUT_OF_SCOPE,
    "system.status": "smalltalk",
    "privacy.manage": OUT_OF_SCOPE,
}
#: Scenario rows whose meaning depends on earlier turns (or on a template), left out of single-turn scoring.
SCENARIO_CONTEXT_IDS = frozenset(
    {
        "multi_turn_planning#2", "multi_turn_planning#3", "calendar_conflict_handling#2",
        "long_conversation_context#1", "long_conversation_context#2", "long_conversation_context#3",
        "long_conversation_context#4", "long_conversation_context#5", "concurrent_user_simulation#1",
    }
)  # fmt: skip
#: Rows whose upstream label contradicts the prompt (upstream's own vocabulary is inconsistent).
SCENARIO_OVERRIDES = {
    "error_recovery_test#2": "time.now",
    "memory_context_test#1": "memory.store",
    "memory_context_test#2": "memory.query",
}


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


def map_scenario_rows(rows: Iterable[Row]) -> list[Row]:
    """Scenario rows (``prompt`` + ``upstream_intent`` or ``expected_intent``) as single-turn intent rows."""
    out: list[Row] = []
    for row in rows:
        rid = str(row.get("id", ""))
        if rid in SCENARIO_CONTEXT_IDS:
            continue
        label = SCENARIO_OVERRIDES.get(rid) or row.get("expected_intent")
        if label is None:
            label = SCENARIO_INTENT_MAP.get(str(row.get("upstream_intent", "")).lower())
        if label is not None:
            out.append({"text": row["prompt"], "intent": label})
    return out
