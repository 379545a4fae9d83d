"""``alice bench cache --mesh``: what a cache hit saves, through Caddy, on a private mesh.

A mesh on free ports (the small test model unless ``--mesh-model`` names another) is asked each question of
:data:`QUESTIONS` once (a miss: NLU + LLM), then ``repeats`` times again in other casing and punctuation (exact
hits), then once in other words (the semantic tier, or a miss when the matcher says no). Latencies are measured
at the client, end to end through Caddy and the guardian; ratios come from the same run. The questions and
paraphrases are Alice's own, written for this benchmark.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import httpx

from alice.cli.mesh import private_mesh

#: (question, the same question in other words) — general questions a cache may answer.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("Vad är huvudstaden i Norge?", "Vad är Norges huvudstad?"),
    ("Hur många ben har en spindel?", "Hur många ben har spindlar?"),
    ("Vad är fotosyntes?", "Vad betyder fotosyntes?"),
    ("Vem skrev Pippi Långstrump?", "Vem är författaren till Pippi Långstrump?"),
    ("Hur långt är ett maraton?", "Hur lång är en maratonsträcka?"),
    ("Vad är skillnaden mellan väder och klimat?", "Vad skiljer väder från klimat?"),
    ("Varför är himlen blå?", "Varför ser himlen blå ut?"),
    ("Hur kokar man ägg?", "Hur gör man för att koka ägg?"),
    ("Vad betyder ordet lagom?", "Vad är betydelsen av ordet lagom?"),
    ("Vilket är Sveriges största landskap?", "Vilket landskap är störst i Sverige?"),
    ("Vad är en fjord?", "Vad menas med en fjord?"),
    ("Hur fungerar en värmepump?", "Hur fungerar värmepumpar?"),
    ("Vad är skillnaden mellan ett virus och en bakterie?", "Vad skiljer ett virus från en bakterie?"),
    ("Vad är ett primtal?", "Vad menas med ett primtal?"),
    ("Hur många invånare har Island?", "Hur många bor på Island?"),
    ("Vad gör en riksdagsledamot?", "Vad arbetar en riksdagsledamot med?"),
)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 2)


def _ask(client: httpx.Client, url: str, key: str, message: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post(url, json={"message": message}, headers={"Authorization": f"Bearer {key}"})
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return elapsed, body


def bench_cache_mesh(model: str, repeats: int = 5) -> dict[str, Any]:
    """Start a private mesh, measure misses, exact hits and paraphrases through Caddy, stop it."""
    with private_mesh(model, _log) as (mesh, key):
        return _measure(f"{mesh.plan.entry_url}/api/chat", key, repeats) | {"model": model, "entry": "caddy"}


def _measure(url: str, key: str, repeats: int) -> dict[str, Any]:
    timings: dict[str, list[float]] = {"miss": [], "exact": [], "paraphrase_hit": [], "paraphrase_miss": []}
    with httpx.Client(timeout=300) as client:
        _ask(client, url, key, "Hej!")  # warm the NLU and the model
        for i, (question, paraphrase) in enumerate(QUESTIONS, 1):
            ms, body = _ask(client, url, key, question)
            timings["miss" if not body["cache"]["hit"] else "exact"].append(ms)
            for _ in range(repeats):
                ms, body = _ask(client, url, key, question.lower().rstrip("?"))
                timings["exact" if body["cache"]["kind"] == "exact" else "miss"].append(ms)
            ms, body = _ask(client, url, key, paraphrase)
            timings["paraphrase_hit" if body["cache"]["kind"] == "semantic" else "paraphrase_miss"].append(ms)
            _log(f"bench cache: {i}/{len(QUESTIONS)} questions")
    out: dict[str, Any] = {
        kind: {"n": len(ms), "p50_ms": _pct(ms, 50), "p95_ms": _pct(ms, 95)} for kind, ms in timings.items()
    }
    misses, exact = timings["miss"], timings["exact"]
    if misses and exact:
        out["miss_over_exact_hit_p50"] = round(statistics.median(misses) / statistics.median(exact), 1)
    asked = len(timings["paraphrase_hit"]) + len(timings["paraphrase_miss"])
    out["paraphrase_hit_rate"] = round(len(timings["paraphrase_hit"]) / asked, 3) if asked else None
    return out
