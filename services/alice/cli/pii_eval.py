"""``alice eval pii``: the guardian's personal-data detector on labelled Swedish sentences (DESIGN §7).

Rows: ``{"text", "spans": [{"start", "end", "type"}]}``. A found span counts as right when an expected span has
the same start, end and type. ``leaked``: expected spans whose text is still readable after redaction (the
redacted text still contains the span's digits or address) — the number that matters most, since a span found
with slightly wrong edges may still hide the value. Latency is the redaction of one whole sentence.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alice.cli.scenarios import percentile
from alice.errors import ConfigError

DEFAULT_DATA = Path("../shared/data/pii/pii_sv.dev.jsonl")


def _say(msg: str) -> None:
    print(f"pii: {msg}", file=sys.stderr, flush=True)


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of ``path``; :class:`ConfigError` naming the line when one is malformed."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row.get("text"), str) or not isinstance(row.get("spans"), list):
                raise ValueError("needs text (string) and spans (list)")
            for span in row["spans"]:
                int(span["start"]), int(span["end"]), str(span["type"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ConfigError(f"{path}:{number}: not a PII row ({exc})") from None
        rows.append(row)
    if not rows:
        raise ConfigError(f"{path}: no rows")
    return rows


def _readable(value: str, redacted: str) -> bool:
    """Whether ``value`` can still be read in ``redacted``: its digits in a row, or the address itself."""
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 6:
        return digits in re.sub(r"\D", "", redacted) and any(
            digits in re.sub(r"\D", "", chunk) for chunk in re.split(r"\[[^\]]*\]", redacted)
        )
    return value.casefold() in redacted.casefold()


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def score(rows: Sequence[dict[str, Any]], region: str = "SE") -> dict[str, Any]:
    """Precision, recall, F1, leaks, per-type counts and latency of the detector on ``rows``."""
    from guardian.pii import Redactor

    found = right = expected = leaked = 0
    by_type: dict[str, dict[str, int]] = {}
    latencies: list[float] = []
    misses: list[dict[str, Any]] = []
    for row in rows:
        text = row["text"]
        started = time.perf_counter()
        redactor = Redactor(region)
        redacted = redactor.redact(text)
        latencies.append((time.perf_counter() - started) * 1000)
        want = {(int(s["start"]), int(s["end"]), str(s["type"])) for s in row["spans"]}
        got = {(s.start, s.end, s.type) for s in redactor.found}
        found, right, expected = found + len(got), right + len(got & want), expected + len(want)
        for kind in {t for _, _, t in want | got}:
            counts = by_type.setdefault(kind, {"expected": 0, "found": 0, "right": 0})
            counts["expected"] += sum(1 for s in want if s[2] == kind)
            counts["found"] += sum(1 for s in got if s[2] == kind)
            counts["right"] += sum(1 for s in got & want if s[2] == kind)
        row_leaks = [s for s in row["spans"] if _readable(text[int(s["start"]) : int(s["end"])], redacted)]
        leaked += len(row_leaks)
        if got != want or row_leaks:
            misses.append(
                {
                    "missed": sorted(t for _, _, t in want - got),
                    "extra": sorted(t for _, _, t in got - want),
                    "leaked": len(row_leaks),
                }
            )
    precision, recall = _share(right, found), _share(right, expected)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else 0.0
    return {
        "n": len(rows),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "leaked": leaked,
        "spans_expected": expected,
        "spans_found": found,
        "per_type": {
            kind: {
                **c,
                "precision": _share(c["right"], c["found"]),
                "recall": _share(c["right"], c["expected"]),
            }
            for kind, c in sorted(by_type.items())
        },
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        # kinds only: the eval never prints the sentences' personal data
        "errors": misses[:20],
    }


def eval_pii(data: Path | None, region: str = "SE") -> dict[str, Any]:
    """Load ``data`` (default the shared dev set), score it, say progress on stderr."""
    path = data or DEFAULT_DATA
    rows = load_rows(path)
    _say(f"{len(rows)} sentences from {path}")
    result = score(rows, region)
    _say(f"precision {result['precision']}, recall {result['recall']}, leaked {result['leaked']}")
    return {"data": str(path), **result}
