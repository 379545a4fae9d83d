"""``alice bench peers``: Alice side by side with LiteLLM's proxy and GPTCache, on this machine, in one run.

1. **Gateways**: one fixed-latency Ollama-API backend (:mod:`alice.cli.fixedbackend`, its own process) behind
   (a) Alice's whole mesh through Caddy, (b) LiteLLM's proxy with its Redis cache (its own venv and redis-server),
   (c) nothing: the backend called directly. The same questions go to each, at each concurrency (the targets take
   turns per level, so a change in the machine's load hits all of them): new questions, exact repeats and
   paraphrases (:mod:`alice.cli.peersmix`). Per target and level: p50/p95/p99 per kind, the latency of cache
   hits, hit shares, requests/s, CPU seconds per 1,000 requests of the target's process tree (Alice: Caddy,
   guardian, orchestrator, NLU, Redis; LiteLLM: the proxy and its Redis; direct: the backend), the backend's
   generations, and everything as added milliseconds and ratios to the direct call.
2. **Semantic cache alone** (:mod:`alice.cli.peerscache`): Alice's lookup against GPTCache's, same vectors,
   same dev pairs.

The load generator is this process (not a target's); it talks to loopback only and every loop is bounded by
its list of questions and a deadline.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from alice.cli import peersinstall
from alice.cli.cacheeval import parse_questions, read_pairs
from alice.cli.mesh import MeshPlan, private_mesh
from alice.cli.peersload import Target, alice_target, direct_target, litellm_target, run_phase
from alice.cli.peersmix import Phase, Timed, build_mix, compare, llm_pairs, ratio, summarise
from alice.cli.peerstargets import LITELLM_KEY, fixed_backend, litellm_stack, tree_cpu_s, tree_rss_mb
from alice.errors import ConfigError
from alice.logs import configure_logging
from orchestrator.cache.keys import canonical_text
from orchestrator.cache.semantic import OPEN_INTENTS, Question

TARGETS = ("direct", "alice", "litellm")
PHASE_BUDGET_S = 300.0


def _generations(backend_url: str) -> int:
    with httpx.Client(timeout=5, trust_env=False) as client:
        return int(client.get(f"{backend_url}/stats").json()["generations"])


def _measure(target: Target, pids: Sequence[int], backend: tuple[str, int], phase: Phase, level: int) -> dict[str, Any]:
    """One target at one level: the news, then repeats and paraphrases; CPU of its tree and the backend's."""
    backend_url, backend_pid = backend
    calls0 = _generations(backend_url)
    cpu0, bcpu0 = tree_cpu_s(pids), tree_cpu_s([backend_pid])
    rows: list[Timed] = []
    wall = 0.0
    for prompts in (phase.news, phase.followups):
        got, seconds = run_phase(target, prompts, level, PHASE_BUDGET_S)
        rows += got
        wall += seconds
    cpu, bcpu = tree_cpu_s(pids) - cpu0, tree_cpu_s([backend_pid]) - bcpu0
    out = summarise(rows, wall, cpu)
    out["backend_cpu_s_per_1k"] = round(bcpu * 1000 / len(rows), 2) if rows else None
    out["backend_calls_per_request"] = round((_generations(backend_url) - calls0) / len(rows), 3) if rows else None
    return out


def _pairs(data: Sequence[Path], say: Callable[[str], None]) -> tuple[list[tuple[str, str, int]], dict[str, Question]]:
    rows = [row for path in data for row in read_pairs(path)]
    say(f"peers: {len(rows)} pairs from {len(data)} file(s)")
    texts = list(dict.fromkeys(t for row in rows for t in (row.a, row.b)))
    return [(r.a, r.b, r.label) for r in rows], parse_questions(texts, say)


def run_bench_peers(
    data: Sequence[Path],
    targets: Sequence[str],
    levels: Sequence[int],
    requests: int,
    delay_s: float,
    semantic: bool,
    home: Path,
    say: Callable[[str], None],
    logs: Path | None = None,
) -> dict[str, Any]:
    """The whole bench; one JSON-ready dict (``logs``: keep Alice's mesh home and service logs there)."""
    configure_logging("alice-cli", fmt="console", level="WARNING")
    chosen = [t for t in TARGETS if t in targets or t == "direct"]  # direct is the yardstick: always measured
    per_kind = max(1, requests // 3)
    pairs, questions = _pairs(data, say)

    def goes_to_llm(text: str) -> bool:
        return questions[text].intent in OPEN_INTENTS

    usable = llm_pairs([(a, b) for a, b, label in pairs if label == 1], goes_to_llm, canonical_text)
    try:
        warmup, mix = build_mix(usable, per_kind, levels)
    except ValueError as exc:
        raise ConfigError(f"{exc}: lower --requests or use fewer --concurrency levels") from None
    say(f"peers: {len(usable)} paraphrase pairs go to the LLM; {per_kind} per kind and level")
    litellm_python = peersinstall.ensure_peer(home, "litellm", say) if "litellm" in chosen else None
    gptcache_python = peersinstall.ensure_peer(home, "gptcache", say) if semantic else None
    result: dict[str, Any] = {
        "bench": "peers",
        "backend_delay_s": delay_s,
        "requests_per_level": per_kind * 3,
        "mix": "per level: n new questions, then n exact repeats and n paraphrases shuffled together",
        "questions": "label-1 dev paraphrase pairs whose both sides the NLU files under a free-text intent "
        "(Alice answers them with the LLM, never a tool)",
        "load_client": "httpx over aiohttp, this process, loopback",
        "peer_versions": {name: list(pins) for name, pins in peersinstall.PINS.items()},
    }
    with ExitStack() as stack:
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alice-peers-")))
        backend = stack.enter_context(fixed_backend(delay_s, log_dir))
        live: dict[str, tuple[Target, list[int]]] = {"direct": (direct_target(backend.url), [backend.popen.pid])}
        if "alice" in chosen:

            def to_backend(plan: MeshPlan) -> None:
                plan.ollama_host = backend.url

            mesh, key = stack.enter_context(private_mesh("fixed", say, logs, prepare=to_backend))
            live["alice"] = (alice_target(mesh.plan.entry_url, key), list(mesh.pids().values()))
        if litellm_python is not None:
            say("peers: starting LiteLLM's proxy (about 15-30 s)")
            procs = stack.enter_context(litellm_stack(litellm_python, backend.url, log_dir))
            live["litellm"] = (litellm_target(procs[0].url, LITELLM_KEY), [p.popen.pid for p in procs])
        result["gateways"] = _gateways(live, (backend.url, backend.popen.pid), warmup, mix, say)
    if gptcache_python is not None:
        from alice.cli.localredis import private_redis
        from alice.cli.peerscache import compare_semantic

        with private_redis(purpose="alice bench peers") as redis_url:
            result["semantic_cache"] = compare_semantic(pairs, questions, gptcache_python, redis_url, say)
    result["headline"] = _headline(result)
    return result


def _gateways(
    live: dict[str, tuple[Target, list[int]]],
    backend: tuple[str, int],
    warmup: Phase,
    mix: dict[int, Phase],
    say: Callable[[str], None],
) -> dict[str, Any]:
    for name, (target, _pids) in live.items():
        say(f"peers: warming up {name}")
        for prompts in (warmup.news, warmup.followups):
            rows, _ = run_phase(target, prompts, 1, PHASE_BUDGET_S)
            failed = [r.status for r in rows if not 200 <= r.status < 300]
            if len(failed) == len(rows):
                raise ConfigError(f"{name} answered no warm-up request (statuses {sorted(set(failed))})")
    out: dict[str, Any] = {"rss_mb_before": {n: tree_rss_mb(p) for n, (_t, p) in live.items()}}
    for level, phase in mix.items():
        point: dict[str, Any] = {}
        for name, (target, pids) in live.items():
            started = time.monotonic()
            point[name] = _measure(target, pids, backend, phase, level)
            got = point[name]["all"]
            say(
                f"peers: c={level} {name}: p50 {got['p50_ms']} ms, hits {got['hit_share']}, "
                f"{time.monotonic() - started:.0f} s"
            )
        for name in live:
            if name != "direct":
                point[name]["vs_direct"] = compare(point[name], point["direct"])
        out[f"c{level}"] = point
    out["rss_mb_after"] = {n: tree_rss_mb(p) for n, (_t, p) in live.items()}
    return out


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's two questions: cache-hit latency Alice vs LiteLLM per level; false hits at equal hit rate."""
    out: dict[str, Any] = {}
    gateways = result.get("gateways", {})
    for level, point in gateways.items():
        if not level.startswith("c") or "alice" not in point or "litellm" not in point:
            continue
        a, b = point["alice"]["hits"], point["litellm"]["hits"]
        exact = a.get("exact", {"p50_ms": None, "p95_ms": None})
        out[f"hit_latency_{level}"] = {
            "alice_p50_ms": a["p50_ms"], "alice_p95_ms": a["p95_ms"],
            "alice_exact_p50_ms": exact["p50_ms"], "alice_exact_p95_ms": exact["p95_ms"],
            "litellm_p50_ms": b["p50_ms"], "litellm_p95_ms": b["p95_ms"],
            "p50_ratio_alice_vs_litellm": ratio(a["p50_ms"], b["p50_ms"]),
            "p95_ratio_alice_vs_litellm": ratio(a["p95_ms"], b["p95_ms"]),
            "exact_p50_ratio_alice_vs_litellm": ratio(exact["p50_ms"], b["p50_ms"]),
        }  # fmt: skip
    sem = result.get("semantic_cache")
    if sem:
        g = sem["gptcache"]["at_alice_hit_rate"]
        out["false_hits_at_equal_hit_rate"] = {
            "alice_hit_rate": sem["alice"]["hit_rate"],
            "alice_false_hit_rate": sem["alice"]["false_hit_rate"],
            "gptcache_hit_rate": g["hit_rate"],
            "gptcache_false_hit_rate": g["false_hit_rate"],
            "alice_lookup_p95_ms": sem["alice"]["p95_ms"],
            "gptcache_lookup_p95_ms": g["p95_ms"],
        }
    return out
