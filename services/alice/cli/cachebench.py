"""``alice bench cache`` (a): the spiral index against brute force at growing sizes, on real sentence vectors.

The vectors are the NLU's embeddings of the Swedish dev pairs (``../shared/data/paraphrase/*.dev.jsonl``). Held
out before anything is stored: the incoming side ``b`` of ``queries`` label-1 pairs (their ``a`` is stored),
``queries`` further sentences that are not stored at all, and a calibration set for :meth:`Projection.fit`
(neither stored nor asked). Each size stores the ``a`` sentences, then the other real sentences, then synthetic
rows: draws from a Gaussian with the stored real rows' mean and covariance, L2-normalised. They have the real
rows' spread and pairwise cosines but none of their clusters, which makes them the hard case for a partition.

Recall@1 is the share of queries whose top spiral hit is the brute-force top hit (or ties its cosine), on two
sets: ``near``, the paraphrase queries whose brute-force best is at least ``NEAR_COSINE`` (the only lookups a
semantic cache can hit on), and ``any``, the unstored sentences whatever their best cosine. Lookup times are taken
per query over both sets, the same queries for both indexes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.cache.spiral import BruteForceIndex, Projection, SpiralIndex, VectorIndex

NEAR_COSINE = 0.9
CALIBRATION_ROWS = 1000
WARMUP_QUERIES = 20


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_spiral(
    sizes: Sequence[int] = (1000, 10000, 100000),
    queries: int = 500,
    seed: int = 7,
    say: Callable[[str], None] = _stderr,
    data: Sequence[Path] | None = None,
) -> dict[str, Any]:
    """Embed the dev pair sentences (cached on disk) and run :func:`bench_spiral_vectors` on them."""
    from alice.cli.embeddings import embed_texts

    files, texts, pairs = pair_sentences(data)
    vectors = embed_texts(texts, say)
    from orchestrator.cache.calibration import packaged_projection

    shipped = packaged_projection(int(vectors.shape[1]))
    out = bench_spiral_vectors(vectors, pairs, sizes=sizes, queries=queries, seed=seed, say=say, projection=shipped)
    out["data"] = {"files": [p.name for p in files], "sentences": len(texts), "paraphrase_pairs": len(pairs)}
    return out


def pair_sentences(data: Sequence[Path] | None = None) -> tuple[list[Path], list[str], list[tuple[int, int]]]:
    """The pair files, their distinct sentences and the paraphrase pairs as sentence indices."""
    from alice.cli.cachecmd import default_pair_files
    from alice.cli.cacheeval import read_pairs

    files = list(data) if data else default_pair_files()
    rows = [row for path in files for row in read_pairs(path)]
    texts = list(dict.fromkeys(t for row in rows for t in (row.a, row.b)))
    index = {t: i for i, t in enumerate(texts)}
    return files, texts, [(index[r.a], index[r.b]) for r in rows if r.label == 1 and r.a != r.b]


def held_out_sentences(queries: int = 500, seed: int = 7, data: Sequence[Path] | None = None) -> list[str]:
    """The sentences :func:`bench_spiral` with these arguments never stores nor asks (its calibration rows)."""
    _files, texts, pairs = pair_sentences(data)
    _a, _near, _any, calib, _rest = _split(len(texts), pairs, queries, np.random.default_rng(seed))
    return [texts[i] for i in calib]


def bench_spiral_vectors(
    vectors: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    sizes: Sequence[int] = (1000, 10000, 100000),
    queries: int = 500,
    seed: int = 7,
    say: Callable[[str], None] = _stderr,
    projection: Projection | None = None,
) -> dict[str, Any]:
    """The benchmark on given unit rows and paraphrase pairs (row indices ``(a, b)``); see the module doc.

    ``projection``: the one the product ships (:mod:`orchestrator.cache.calibration`); None fits one on held-out
    rows of ``vectors``."""
    from alice.fibonacci import config

    rng = np.random.default_rng(seed)
    real = np.asarray(vectors, dtype=np.float32)
    anchors, near_q, any_q, calib, rest = _split(len(real), pairs, queries, rng)
    how = "the product's shipped projection (NLU training + the bench's held-out dev sentences)"
    if projection is None:
        projection = Projection.fit(real[calib])
        how = f"Projection.fit on {len(calib)} held-out real sentences"
    cfg = config()

    def spiral(fitted: Projection | None) -> Callable[[], VectorIndex]:
        dim, points, dimensions = real.shape[1], cfg.fib_spiral_points, cfg.fib_spiral_dimensions
        return lambda: SpiralIndex(dim, points, dimensions, seed=seed, projection=fitted)

    make = {
        "spiral": spiral(projection),
        "uncalibrated": spiral(None),
        "brute_force": lambda: BruteForceIndex(real.shape[1]),
    }
    probe = SpiralIndex(real.shape[1], cfg.fib_spiral_points, cfg.fib_spiral_dimensions, projection=projection)
    out: dict[str, Any] = {
        "method": {
            "points": probe.points,
            "dimensions": probe.dimensions,
            "probes": probe.probes,
            "bits": probe.bits,
            "shortlist": probe.shortlist,
            "projection": f"{how}, {projection.components} axes",
            "near_cosine": NEAR_COSINE,
            "queries_near": f"{len(near_q)} paraphrases b of stored a, kept where brute force finds >= {NEAR_COSINE}",
            "queries_any": f"{len(any_q)} real sentences never stored",
            "synthetic": "Gaussian with the stored real rows' mean and covariance, L2-normalised",
            "uncalibrated": "the same index with the seeded random projection (no centre), for comparison",
            "speedup": "brute-force lookup time over spiral lookup time",
        },
        "sizes": {},
    }
    threads, limit = _one_blas_thread()
    out["method"]["blas_threads"] = threads
    out["method"]["load_average_1m"] = round(os.getloadavg()[0], 2)
    stored_real = np.concatenate([anchors, rest])
    synthetic = _gaussian_like(real[stored_real], max([0, *sizes]) - len(stored_real), rng)
    with limit:
        for size in sizes:
            pick = stored_real[:size]
            rows = np.vstack([real[pick], synthetic[: size - len(pick)]])
            label = f"{len(pick)} real + {len(rows) - len(pick)} synthetic"
            say(f"spiral: {size} entries ({label})")
            result = _one_size(rows, real[near_q], real[any_q], make, say)
            out["sizes"][str(size)] = {"entries": label, **result}
    return out


def _one_blas_thread() -> tuple[str, Any]:
    """Time lookups on one BLAS thread (a request's share of the machine); threadpoolctl comes with the NLU."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "library default (threadpoolctl missing)", contextlib.nullcontext()
    return "1", threadpool_limits(limits=1, user_api="blas")


def _split(
    n: int, pairs: Sequence[tuple[int, int]], queries: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stored anchors, their paraphrase queries, unstored queries, calibration rows, the other real rows."""
    used: set[int] = set()
    anchors: list[int] = []
    near: list[int] = []
    for k in rng.permutation(len(pairs)).tolist():
        a, b = pairs[k]
        if len(near) == queries:
            break
        if a not in used and b not in used:
            anchors.append(a)
            near.append(b)
            used.update((a, b))
    others = np.array([i for i in rng.permutation(n).tolist() if i not in used], dtype=np.int64)
    n_any = min(queries, len(others) // 3)
    n_calib = min(CALIBRATION_ROWS, max(3, len(others) // 7))
    return (
        np.array(anchors, dtype=np.int64),
        np.array(near, dtype=np.int64),
        others[:n_any],
        others[n_any : n_any + n_calib],
        others[n_any + n_calib :],
    )


def _gaussian_like(rows: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit rows drawn from a Gaussian with the mean and covariance of ``rows``."""
    if count <= 0:
        return np.zeros((0, rows.shape[1]), dtype=np.float32)
    values, axes = np.linalg.eigh(np.cov(rows.T.astype(np.float64)))
    root = axes * np.sqrt(np.clip(values, 0.0, None))
    draws = rows.mean(axis=0) + rng.standard_normal((count, rows.shape[1])) @ root.T
    unit: np.ndarray = (draws / np.linalg.norm(draws, axis=1, keepdims=True)).astype(np.float32)
    return unit


@dataclass
class _Run:
    """One index at one size: build time, per-query top hit and lookup time, cell statistics for the spiral."""

    build_s: float
    hits: list[tuple[str, float]]
    times_ms: list[float]
    cells: dict[str, Any] = field(default_factory=dict)


def _run(factory: Callable[[], VectorIndex], rows: np.ndarray, asked: np.ndarray) -> _Run:
    index = factory()
    started = time.perf_counter()
    for i, row in enumerate(rows):
        index.add(f"e{i}", row)
    build_s = time.perf_counter() - started
    for q in asked[:WARMUP_QUERIES]:
        index.search(q)
    run = _Run(round(build_s, 2), [], [])
    for q in asked:
        started = time.perf_counter()
        hit = index.search(q)
        run.times_ms.append((time.perf_counter() - started) * 1000)
        run.hits.append(hit[0] if hit else ("", -1.0))
    if isinstance(index, SpiralIndex):
        sizes = np.array(index.cell_sizes())
        scanned = np.mean([sizes[index.probed_cells(q)].sum() for q in asked])
        run.cells = {"min": int(sizes.min()), "max": int(sizes.max()), "scanned_share": round(scanned / len(rows), 3)}
    return run


def _one_size(
    rows: np.ndarray,
    near: np.ndarray,
    anywhere: np.ndarray,
    make: dict[str, Callable[[], VectorIndex]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    asked = np.vstack([near, anywhere])
    runs: dict[str, _Run] = {}
    for name, factory in make.items():
        runs[name] = run = _run(factory, rows, asked)
        say(f"spiral: {len(rows)} entries, {name}: built in {run.build_s} s, p95 {_pct(run.times_ms, 95)} ms")
    best = np.array([score for _key, score in runs["brute_force"].hits])
    is_near = (np.arange(len(asked)) < len(near)) & (best >= NEAR_COSINE)
    is_any = np.arange(len(asked)) >= len(near)
    out: dict[str, Any] = {
        "build_s": {name: run.build_s for name, run in runs.items()},
        "lookup_ms": {name: {"p50": _pct(r.times_ms, 50), "p95": _pct(r.times_ms, 95)} for name, r in runs.items()},
        "cells": runs["spiral"].cells,
        "queries_near": int(is_near.sum()),
        "queries_any": int(is_any.sum()),
        "any_best_cosine_p50": round(float(np.median(best[is_any])), 3) if is_any.any() else None,
    }
    for name, prefix in (("spiral", ""), ("uncalibrated", "uncalibrated_")):
        same = np.array([_same(a, b) for a, b in zip(runs[name].hits, runs["brute_force"].hits, strict=True)])
        out[f"{prefix}recall_at_1_near"] = _share(same[is_near])
        out[f"{prefix}recall_at_1_any"] = _share(same[is_any])
    brute, spiral = out["lookup_ms"]["brute_force"], out["lookup_ms"]["spiral"]
    out["speedup"] = {p: round(brute[p] / spiral[p], 1) if spiral[p] else None for p in ("p50", "p95")}
    say(
        f"spiral: {len(rows)} entries: recall@1 near {out['recall_at_1_near']} any {out['recall_at_1_any']}, "
        f"p95 {spiral['p95']} ms against {brute['p95']} ms"
    )
    return out


def _same(hit: tuple[str, float], truth: tuple[str, float]) -> bool:
    """The same top hit as brute force, or one tied with it."""
    return hit[0] == truth[0] or abs(hit[1] - truth[1]) <= 1e-6


def _pct(times: Sequence[float], q: float) -> float:
    return round(float(np.percentile(times, q)), 3) if times else 0.0


def _share(mask: np.ndarray) -> float | None:
    return round(float(mask.mean()), 3) if mask.size else None
