"""The semantic cache alone: Alice's lookup against GPTCache's, on the same vectors and the same pairs.

Protocol (the same for both): every distinct ``a`` of the dev pairs is stored with its own answer; then each
``b`` is looked up, except where ``b`` equals ``a`` or is itself stored (an exact hit, not a semantic one). A hit
that returns the pair's own ``a`` counts as a hit on a paraphrase (label 1) and as a false hit on a pair of
different meaning (label 0); a hit returning some other entry is counted apart (``other_hit_rate``).

- **Alice**: the product's path, :meth:`AnswerCache.semantic` over a real redis-server (entries put with
  :meth:`AnswerCache.put`: the NLU's intent and entities give the scope; intents the product never caches are
  not stored), timed per lookup, Redis round trips included.
- **GPTCache** (``gptcache_driver.py`` in its own venv, one OpenMP thread, SQLite in memory, faiss): its ``get``
  at its default threshold (0.8 with ``max_distance`` 4: cosine ≥ 0.6), at the threshold where its hit rate is
  closest to Alice's, and where its false-hit rate is closest to Alice's; the sweep uses GPTCache's own ranks.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from alice.errors import ConfigError
from orchestrator.cache.semantic import Question

TENANT: Final = "bench"
GPTCACHE_DEFAULT_THRESHOLD: Final = 0.8
GPTCACHE_MAX_DISTANCE: Final = 4.0
DRIVER: Final = Path(__file__).with_name("gptcache_driver.py")
DRIVER_TIMEOUT_S: Final = 900


def cosine_for(threshold: float, max_distance: float = GPTCACHE_MAX_DISTANCE) -> float:
    """The cosine GPTCache's ``similarity_threshold`` stands for with faiss (squared L2) and
    ``SearchDistanceEvaluation``: a hit needs ``max_distance - d² >= max_distance * T`` and ``d² = 2 - 2 cos`` for
    unit vectors, so ``cos >= 1 - max_distance (1 - T) / 2``."""
    return 1.0 - max_distance * (1.0 - threshold) / 2.0


def threshold_for(cos: float, max_distance: float = GPTCACHE_MAX_DISTANCE) -> float:
    """GPTCache's ``similarity_threshold`` for a cosine floor (the inverse of :func:`cosine_for`)."""
    return 1.0 - 2.0 * (1.0 - cos) / max_distance


def protocol(pairs: Sequence[tuple[str, str, int]]) -> tuple[list[str], list[tuple[str, str, int]]]:
    """The distinct ``a`` texts to store, and the ``(a, b, label)`` lookups (``b`` neither ``a`` nor stored)."""
    stored = list(dict.fromkeys(a for a, _, _ in pairs))
    known = set(stored)
    return stored, [(a, b, label) for a, b, label in pairs if b != a and b not in known]


def rates(returned: Sequence[int | None], own: Sequence[int], labels: Sequence[int]) -> dict[str, Any]:
    """Hit rate (label 1), false-hit rate (label 0) and other-entry hits, from the stored index each lookup
    returned (None: a miss) and the index of each pair's own ``a``."""
    lab = np.asarray(labels)
    got = np.asarray([-1 if r is None else r for r in returned])
    own_hit = got == np.asarray(own)
    other = (got >= 0) & ~own_hit
    pos, neg = lab == 1, lab == 0
    return {
        "hit_rate": round(float(own_hit[pos].mean()), 4) if pos.any() else None,
        "false_hit_rate": round(float(own_hit[neg].mean()), 4) if neg.any() else None,
        "other_hit_rate": round(float(other.mean()), 4) if len(got) else None,
        "n_pos": int(pos.sum()),
        "n_neg": int(neg.sum()),
    }


def sweep(
    rank: Sequence[float], answers: Sequence[int | None], own: Sequence[int], labels: Sequence[int], key: str,
    target: float, max_distance: float = GPTCACHE_MAX_DISTANCE,
) -> tuple[float, dict[str, Any]]:  # fmt: skip
    """GPTCache's threshold (on a 0.0005 grid) whose ``key`` rate (``hit_rate`` or ``false_hit_rate``) is closest
    to ``target``, with its rates; a lookup hits when its best rank reaches ``max_distance * T``."""
    best: tuple[float, float, dict[str, Any]] | None = None
    for t in np.arange(0.5, 1.0, 0.0005):
        threshold = round(float(t), 4)
        hit = [a if r >= max_distance * threshold else None for r, a in zip(rank, answers, strict=True)]
        got = rates(hit, own, labels)
        gap = abs(float(got[key] or 0.0) - target)
        if best is None or gap < best[0]:
            best = (gap, threshold, got)
    if best is None:
        raise ValueError("empty threshold grid")
    return best[1], best[2]


def _ms_stats(ms: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3), "p95_ms": round(float(np.percentile(arr, 95)), 3)}


async def _alice_lookups(
    redis_url: str, stored: Sequence[Question], queries: Sequence[Question]
) -> tuple[list[int | None], list[float], int]:
    from redis.asyncio import Redis

    from alice.fibonacci import config as fibonacci_config
    from orchestrator.cache.answers import AnswerCache, CacheConfig
    from orchestrator.cache.keys import KeyContext
    from orchestrator.cache.semantic import SemanticMatcher
    from orchestrator.cache.store import CacheStore
    from orchestrator.cache.tiers import TierPolicy, parse_intent_rules
    from orchestrator.settings import OrchestratorSettings

    s = OrchestratorSettings.model_fields
    fib = fibonacci_config()
    config = CacheConfig(
        tiers=TierPolicy.from_hours(fib.fib_cache_ttls_h),
        rules=parse_intent_rules(str(s["cache_never_intents"].default), str(s["cache_volatile_intents"].default)),
        max_entries=max(int(s["cache_max_entries"].default), len(stored) + 10),
        spiral_points=fib.fib_spiral_points,
        spiral_dimensions=fib.fib_spiral_dimensions,
    )
    redis = Redis.from_url(redis_url)
    try:
        cache = AnswerCache(CacheStore(redis, config.max_entries), config, KeyContext("fixed", "p", "1", "n"),
                            SemanticMatcher())  # fmt: skip
        kept = 0
        for i, q in enumerate(stored):
            kept += await cache.put(TENANT, cache.key(TENANT, q.text), q, {"response": str(i)}) is not None
        warm = Question("uppvärmning av indexet", "info.query", (), queries[0].embedding)
        await cache.semantic(TENANT, warm, cache.key(TENANT, warm.text))  # builds the index from Redis
        returned: list[int | None] = []
        ms: list[float] = []
        for q in queries:
            t0 = time.perf_counter()
            hit = await cache.semantic(TENANT, q, cache.key(TENANT, q.text))
            ms.append((time.perf_counter() - t0) * 1000)
            returned.append(None if hit is None else int(hit.answer["response"]))
        return returned, ms, kept
    finally:
        await redis.aclose()


def _run_driver(python: Path, work: Path, thresholds: Sequence[float]) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [str(python), str(DRIVER), "--work", str(work), "--thresholds", ",".join(str(t) for t in thresholds)]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=DRIVER_TIMEOUT_S, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise ConfigError(f"the GPTCache driver took more than {DRIVER_TIMEOUT_S} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConfigError(f"the GPTCache driver failed (exit {done.returncode}): {tail[0]}")
    result: dict[str, Any] = json.loads((work / "output.json").read_text(encoding="utf-8"))
    return result


def _index(answer: str | None) -> int | None:
    return None if answer is None else int(answer)


def compare_semantic(
    pairs: Sequence[tuple[str, str, int]],
    questions: dict[str, Question],
    gptcache_python: Path,
    redis_url: str,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Alice's semantic lookup against GPTCache's on ``pairs`` (``a``, ``b``, label), the same vectors."""
    stored, lookups = protocol(pairs)
    position = {text: i for i, text in enumerate(stored)}
    own = [position[a] for a, _, _ in lookups]
    labels = [label for _, _, label in lookups]
    say(f"peers: semantic cache: {len(stored)} entries, {len(lookups)} lookups — Alice")
    returned, alice_ms, kept = asyncio.run(
        _alice_lookups(redis_url, [questions[t] for t in stored], [questions[b] for _, b, _ in lookups])
    )
    alice = {**rates(returned, own, labels), **_ms_stats(alice_ms), "stored": kept,
             "path": "AnswerCache.semantic over redis-server (scope, spiral index, matcher)"}  # fmt: skip
    say(f"peers: Alice hit {alice['hit_rate']} false {alice['false_hit_rate']} p95 {alice['p95_ms']} ms — GPTCache")
    with tempfile.TemporaryDirectory(prefix="alice-gptcache-") as tmp:
        work = Path(tmp)
        queries = list(dict.fromkeys(b for _, b, _ in lookups))
        np.save(work / "stored.npy", np.stack([np.asarray(questions[t].embedding, np.float32) for t in stored]))
        np.save(work / "queries.npy", np.stack([np.asarray(questions[t].embedding, np.float32) for t in queries]))
        spec = {"stored": stored, "queries": queries, "max_distance": GPTCACHE_MAX_DISTANCE}
        (work / "input.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        first = _run_driver(gptcache_python, work, [GPTCACHE_DEFAULT_THRESHOLD])
        slot = {text: i for i, text in enumerate(queries)}
        pick = [slot[b] for _, b, _ in lookups]
        rank = [first["rank"][i] for i in pick]
        best = [_index(first["rank_answer"][i]) for i in pick]
        t_hit, _ = sweep(rank, best, own, labels, "hit_rate", float(alice["hit_rate"] or 0))
        t_false, _ = sweep(rank, best, own, labels, "false_hit_rate", float(alice["false_hit_rate"] or 0))
        say(f"peers: GPTCache thresholds {t_hit} (equal hit rate), {t_false} (equal false-hit rate)")
        second = _run_driver(gptcache_python, work, [t_hit, t_false])
    timed = {**first["timed"], **second["timed"]}

    def point(threshold: float) -> dict[str, Any]:
        run = timed[str(threshold)]
        got = [_index(run["answers"][i]) for i in pick]
        ranked = [a if r >= GPTCACHE_MAX_DISTANCE * threshold else None for r, a in zip(rank, best, strict=True)]
        mismatch = sum((g is None) != (r is None) for g, r in zip(got, ranked, strict=True))
        return {"threshold": threshold, "cosine_floor": round(cosine_for(threshold), 4), **rates(got, own, labels),
                **_ms_stats([run["ms"][i] for i in pick]), "decisions_differing_from_sweep": mismatch}  # fmt: skip

    return {
        "pairs": len(pairs),
        "stored": len(stored),
        "lookups": len(lookups),
        "alice": alice,
        "gptcache": {
            "setup": "gptcache 0.1.44, faiss top-1, sqlite :memory:, SearchDistanceEvaluation(max_distance=4), "
            "OMP_NUM_THREADS=1, precomputed vectors",
            "default": point(GPTCACHE_DEFAULT_THRESHOLD),
            "at_alice_hit_rate": point(t_hit),
            "at_alice_false_hit_rate": point(t_false),
            "import_s": second.get("import_s"),
        },
    }
