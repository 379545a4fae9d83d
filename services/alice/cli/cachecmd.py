"""``alice eval cache`` and ``alice bench cache``: the semantic tier's accuracy, the spiral index and the tiers.

Both read Swedish sentence pairs (``{"a","b","label"}``); by default the dev parts of the shared paraphrase
sets beside the repository (``../shared/data/paraphrase/*.dev.jsonl``). Progress goes to stderr, one JSON
object to stdout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from alice.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
DEFAULT_PAIRS_GLOB = "*.dev.jsonl"


def _say(msg: str) -> None:
    typer.echo(msg, err=True)


def default_pair_files() -> list[Path]:
    """The dev pair files of ``../shared/data/paraphrase`` (a ConfigError naming the place when absent)."""
    folder = REPO.parent / "shared" / "data" / "paraphrase"
    files = sorted(folder.glob(DEFAULT_PAIRS_GLOB))
    if not files:
        raise ConfigError(f"no pair files in {folder} ({DEFAULT_PAIRS_GLOB}); pass --data FILE")
    return files


def eval_cache(data: list[Path] | None, threshold: float | None, curve: bool) -> dict[str, Any]:
    """``alice eval cache``: hit and false-hit rates of the semantic tier on labelled pairs."""
    from alice.cli import cacheeval, nlucmd

    nlucmd.quiet_logs()
    return cacheeval.eval_cache(data or default_pair_files(), threshold, curve, say=_say)


def bench_cache(
    data: list[Path] | None,
    sizes: Sequence[int],
    queries: int,
    requests: int,
    capacity: int,
    span_days: float,
    zipf_s: float,
    seed: int,
    mesh_model: str | None = None,
) -> dict[str, Any]:
    """``alice bench cache``: (a) the spiral index against brute force, (b) the replayed tiers against flat TTLs,
    (c) with ``mesh_model``, misses and hits through Caddy on a private mesh."""
    from alice.cli import cacheeval, cachereplay, nlucmd
    from alice.fibonacci import config as fibonacci_config

    nlucmd.quiet_logs()
    files = data or default_pair_files()
    rows = [row for path in files for row in cacheeval.read_pairs(path)]
    started = time.perf_counter()
    out: dict[str, Any] = {"data": [p.name for p in files]}
    spiral = _bench_spiral(sizes, queries, seed)
    if spiral is not None:
        out["spiral"] = spiral
    _say("bench: replaying the workload")
    from orchestrator.cache.tiers import parse_intent_rules
    from orchestrator.settings import OrchestratorSettings

    defaults = OrchestratorSettings.model_fields
    rules = parse_intent_rules(
        str(defaults["cache_never_intents"].default), str(defaults["cache_volatile_intents"].default)
    )
    out["replay"] = cachereplay.bench_replay(
        [(r.a, r.b, r.label) for r in rows],
        lambda texts: cacheeval.parse_questions(texts, _say),
        cachereplay.ReplayConfig(requests=requests, capacity=capacity, span_days=span_days, zipf_s=zipf_s, seed=seed),
        fibonacci_config().fib_cache_ttls_h,
        rules=rules,
        say=_say,
    )
    if mesh_model is not None:
        from alice.cli.cachemesh import bench_cache_mesh

        out["mesh"] = bench_cache_mesh(mesh_model)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _bench_spiral(sizes: Sequence[int], queries: int, seed: int) -> dict[str, Any] | None:
    if not sizes:
        return None
    from alice.cli import cachebench

    return cachebench.bench_spiral(sizes=tuple(sizes), queries=queries, seed=seed, say=_say)


def fit_projection(out: Path | None) -> dict[str, Any]:
    """Fit the spiral index's projection and write it (``.npz``): on the NLU training sentences (assistant
    traffic) and the dev paraphrase sentences ``alice bench cache`` holds out (general Swedish, never stored or
    asked by the bench with its default seed)."""
    import hashlib

    from alice.cli.cachebench import held_out_sentences
    from alice.cli.embeddings import embed_texts
    from nlu.datasets import read_intent_file
    from nlu.settings import NLUSettings
    from orchestrator.cache.calibration import PROJECTION_FILE
    from orchestrator.cache.spiral import Projection

    source = NLUSettings().data_dir / "intents_sv.jsonl"
    texts = sorted({str(row["text"]) for row in read_intent_file(source)} | set(held_out_sentences()))
    vectors = embed_texts(texts, _say)
    projection = Projection.fit(vectors)
    target = out or PROJECTION_FILE
    projection.save(target)
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    _say(f"projection: {projection.components} axes from {len(texts)} sentences written to {target}")
    return {"path": str(target), "sentences": len(texts), "texts_sha256": digest, "axes": projection.components}
