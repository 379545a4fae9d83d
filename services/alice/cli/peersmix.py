"""The pure parts of ``alice bench peers``: which questions, in what order, and the arithmetic of the report.

- :func:`llm_pairs` picks paraphrase pairs whose two sides the NLU files under a free-text intent (Alice answers
  those with the LLM; a clock or weather question would be answered by a tool and compare nothing).
- :func:`build_mix` gives each concurrency level its own disjoint slice of pairs: first every ``a`` once
  (*new*), then, shuffled together, every ``a`` again (*repeat*) and every ``b`` (*paraphrase*). Each target gets
  the very same lists.
- :func:`summarise` and :func:`compare` turn timed requests into percentiles per kind, hit shares, the latency
  a target adds over the direct call and its ratios to it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

KINDS: Final = ("new", "repeat", "paraphrase")
ALL: Final = "all"


@dataclass(frozen=True)
class Prompt:
    """One request of the mix: its kind and the question text."""

    kind: str
    text: str


@dataclass(frozen=True)
class Phase:
    """Requests sent together at one concurrency: the news first (``warm``), then repeats and paraphrases."""

    news: tuple[Prompt, ...]
    followups: tuple[Prompt, ...]


@dataclass(frozen=True)
class Timed:
    """One answered (or failed) request: kind, client-side latency, status, cache hit and the hit's kind."""

    kind: str
    ms: float
    status: int
    hit: bool
    hit_kind: str | None = None
    route: str | None = None


def llm_pairs(
    pairs: Sequence[tuple[str, str]], goes_to_llm: Callable[[str], bool], canonical: Callable[[str], str]
) -> list[tuple[str, str]]:
    """Pairs ``(a, b)`` fit for the mix: both sides go to the LLM, ``b`` is not ``a`` in other casing or
    punctuation (that is an exact hit, not a paraphrase), and no text appears in two pairs."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for a, b in pairs:
        ka, kb = canonical(a), canonical(b)
        if ka == kb or ka in seen or kb in seen or not (goes_to_llm(a) and goes_to_llm(b)):
            continue
        seen.update((ka, kb))
        out.append((a, b))
    return out


def build_mix(
    pairs: Sequence[tuple[str, str]], per_kind: int, levels: Sequence[int], seed: int = 7
) -> tuple[Phase, dict[int, Phase]]:
    """A warm-up phase and one phase per concurrency level, each on its own ``per_kind`` pairs (so no level
    finds another's answers in a cache). Raises ``ValueError`` when there are too few pairs."""
    warm = max(1, min(8, per_kind))
    needed = warm + per_kind * len(levels)
    if per_kind < 1 or len(pairs) < needed:
        raise ValueError(
            f"need {needed} usable pairs for {per_kind} per kind at {len(levels)} levels, have {len(pairs)}"
        )
    rng = random.Random(seed)  # noqa: S311 - a reproducible order, not a secret
    shuffled = list(pairs)
    rng.shuffle(shuffled)

    def phase(chunk: Sequence[tuple[str, str]]) -> Phase:
        news = tuple(Prompt("new", a) for a, _ in chunk)
        followups = [Prompt("repeat", a) for a, _ in chunk] + [Prompt("paraphrase", b) for _, b in chunk]
        rng.shuffle(followups)
        return Phase(news, tuple(followups))

    warmup = phase(shuffled[:warm])
    out: dict[int, Phase] = {}
    for i, level in enumerate(levels):
        start = warm + i * per_kind
        out[level] = phase(shuffled[start : start + per_kind])
    return warmup, out


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[k], 2)


def _stats(rows: Sequence[Timed]) -> dict[str, Any]:
    ok = [r for r in rows if 200 <= r.status < 300]
    ms = [r.ms for r in ok]
    hits = [r for r in ok if r.hit]
    out: dict[str, Any] = {
        "n": len(rows),
        "errors": len(rows) - len(ok),
        "p50_ms": percentile(ms, 0.50),
        "p95_ms": percentile(ms, 0.95),
        "p99_ms": percentile(ms, 0.99),
        "hit_share": round(len(hits) / len(ok), 3) if ok else None,
    }
    failed = sorted({r.status for r in rows if not 200 <= r.status < 300})
    if failed:  # 0: no answer (connection error, timeout, or not sent before the deadline)
        out["error_statuses"] = {str(s): sum(1 for r in rows if r.status == s) for s in failed}
    kinds = sorted({r.hit_kind for r in hits if r.hit_kind})
    if kinds:
        out["hits_by_kind"] = {k: sum(1 for r in hits if r.hit_kind == k) for k in kinds}
    return out


def _latency(ms: Sequence[float]) -> dict[str, Any]:
    return {"n": len(ms), "p50_ms": percentile(ms, 0.5), "p95_ms": percentile(ms, 0.95), "p99_ms": percentile(ms, 0.99)}


def summarise(rows: Sequence[Timed], wall_s: float, cpu_s: float | None) -> dict[str, Any]:
    """Percentiles per kind and overall, requests/s over the phase's wall time, CPU s per 1,000 requests, and
    the latency of cache hits alone (the gateway's whole cost when the backend is not called), all and per hit kind."""
    out: dict[str, Any] = {kind: _stats([r for r in rows if r.kind == kind]) for kind in KINDS}
    out[ALL] = _stats(rows)
    out["rps"] = round(len(rows) / wall_s, 2) if wall_s > 0 else None
    out["cpu_s_per_1k"] = round(cpu_s * 1000 / len(rows), 2) if cpu_s is not None and rows else None
    hits = [r for r in rows if r.hit and 200 <= r.status < 300]
    out["hits"] = _latency([r.ms for r in hits])
    for kind in sorted({r.hit_kind for r in hits if r.hit_kind}):
        out["hits"][kind] = _latency([r.ms for r in hits if r.hit_kind == kind])
    routes = sorted({r.route for r in rows if r.route})
    if routes:
        out["routes"] = {route: sum(1 for r in rows if r.route == route) for route in routes}
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` rounded, None when either is missing or ``b`` is not positive."""
    if a is None or b is None or b <= 0:
        return None
    return round(a / b, 3)


def added(a: float | None, b: float | None) -> float | None:
    """``a - b`` rounded (the latency a target adds over the direct call), None when either is missing."""
    return None if a is None or b is None else round(a - b, 2)


def compare(target: Mapping[str, Any], direct: Mapping[str, Any]) -> dict[str, Any]:
    """A target's summary against the direct call's at the same concurrency: added ms per kind and percentile,
    and the ratios of p50/p95/p99, requests/s and CPU per 1,000 requests."""
    out: dict[str, Any] = {"added_ms": {}, "ratio_to_direct": {}}
    for kind in (*KINDS, ALL):
        t, d = target[kind], direct[kind]
        out["added_ms"][kind] = {p: added(t[f"{p}_ms"], d[f"{p}_ms"]) for p in ("p50", "p95", "p99")}
        out["ratio_to_direct"][kind] = {p: ratio(t[f"{p}_ms"], d[f"{p}_ms"]) for p in ("p50", "p95", "p99")}
    out["ratio_to_direct"]["rps"] = ratio(target["rps"], direct["rps"])
    out["ratio_to_direct"]["cpu_s_per_1k"] = ratio(target["cpu_s_per_1k"], direct["cpu_s_per_1k"])
    return out
