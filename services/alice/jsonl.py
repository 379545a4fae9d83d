"""JSON Lines files of objects, read with errors that name the file and the line (for the CLI's data files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alice.errors import ConfigError


def numbered_objects(path: Path, what: str = "a JSON object") -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; :class:`ConfigError` names ``path:line`` otherwise."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    out: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{number}: expected {what}")
        out.append((number, row))
    return out
