"""``alice bench load``: the saturation throughput of the cached and uncached paths, then a soak at 70 % of it.

A private mesh on free ports (Caddy → guardian → orchestrator → NLU, Redis) whose LLM is the fixed-latency
stand-in (:mod:`alice.cli.fixedbackend`, its own process, answering after ``delay_s``), loaded from this process
over loopback with the admin dev key (admins are not rate-limited) by an open loop (:mod:`alice.cli.loadgen`).

1. **Ramp**, each path alone, rates 1, 2, 3, 5, 8, 13, … a second for ``step_s`` each, until a step fails the
   saturation rule (:mod:`alice.cli.loadmath`), then one step halfway. The p95 bound: 377 ms (the objectives'
   critical level) for the cached path, the stand-in's delay + 377 ms for the uncached one.
2. **Soak**: the mix (``cached_share`` repeats, the rest unique) at ``soak_load`` × the mix's saturation for
   ``soak_s``; per window: requests, errors by status, p50/p95; every ``rss_every_s`` the RSS of each service
   (process and children), the cache's entries and Redis's ``used_memory``. After ``warmup_s``: p95 drift (last
   window against the first) and RSS growth (:func:`alice.cli.loadmath.growth_pct`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from alice.cli.benchmesh import _rss_mb
from alice.cli.cachemesh import QUESTIONS
from alice.cli.loadgen import Asker, LoadConfig, open_loop
from alice.cli.loadmath import StepResult, passes, rate_steps, refine_between, saturation, step_result
from alice.cli.loadsoak import soak
from alice.cli.mesh import MeshPlan, private_mesh
from alice.cli.peerstargets import fixed_backend
from alice.errors import ConfigError


def _say(msg: str) -> None:
    print(f"bench load: {msg}", file=sys.stderr, flush=True)


async def _prime(asker: Asker) -> list[str]:
    """Ask each cache question twice; the ones answered from the cache the second time are the cached set."""
    kept = []
    for question, _other in QUESTIONS:
        asker.cached_questions = [question]
        first, _ = await asker.ask("cached")
        second, hit = await asker.ask("cached")
        if first == 200 and second == 200 and hit:
            kept.append(question)
    if not kept:
        raise ConfigError("no question was answered from the cache after being asked once; is the cache enabled?")
    asker.routes.clear()
    return kept


async def _step(asker: Asker, path: str, rate: float, config: LoadConfig) -> StepResult:
    outcomes = await open_loop(asker, rate, config.step_s, lambda _i: path, config.max_in_flight)
    step = step_result(outcomes, rate)
    hits = sum(1 for o in outcomes if o.cache_hit)
    _say(
        f"{path} {rate:g}/s: achieved {step.achieved_rps}/s, p95 {step.p95_ms} ms, "
        f"errors {step.errors}/{step.requests}, cache hits {hits}, send lag p95 {step.send_lag_p95_ms} ms"
    )
    await asyncio.sleep(1.0)  # let the queues drain between steps
    return step


#: Unmeasured requests of a path before its ramp: the first of a kind pay for cold code paths and buffers.
PATH_WARMUP_REQUESTS = 8


async def _warm(asker: Asker, path: str) -> None:
    """A few requests of ``path`` one at a time, then a pause for whatever the earlier phase left queued."""
    for _ in range(PATH_WARMUP_REQUESTS):
        await asker.ask(path)
    asker.routes.pop(path, None)
    await asyncio.sleep(3.0)


async def _ramp(asker: Asker, path: str, config: LoadConfig) -> dict[str, Any]:
    """The ramp of one path: up the ladder until a step fails, then one step halfway (see the module docstring)."""
    bound = config.p95_bound_ms(path)
    await _warm(asker, path)
    steps: list[StepResult] = []
    for rate in rate_steps(config.max_rps):
        steps.append(await _step(asker, path, rate, config))
        if not passes(steps[-1], bound):
            best = saturation(steps, bound)
            middle = refine_between(best.offered_rps, rate) if best else None
            if middle is not None:
                steps.append(await _step(asker, path, middle, config))
            break
    best = saturation(steps, bound)
    return {
        "p95_bound_ms": bound,
        "steps": [asdict(s) for s in steps],
        "saturation_rps": best.achieved_rps if best else 0.0,
        "saturation_offered_rps": best.offered_rps if best else 0.0,
        "routes": dict(asker.routes.pop(path, {})),
    }


async def _measure(url: str, key: str, config: LoadConfig, probe: dict[str, Any]) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=config.connections, max_keepalive_connections=config.connections)
    transport = AiohttpTransport(limits=limits, trust_env=False)  # the cheaper client: less of the CPU is ours
    async with httpx.AsyncClient(timeout=config.timeout_s, limits=limits, transport=transport) as client:
        asker = Asker(client, url, key, [], config.timeout_s)
        cached = await _prime(asker)
        asker.cached_questions = cached
        _say(f"{len(cached)} questions answered from the cache after one ask")
        paths: dict[str, Any] = {}
        for path in config.paths if config.soak_rps is None else ():
            paths[path] = await _ramp(asker, path, config)
        paths.setdefault("cached", {})["questions"] = len(cached)
        result: dict[str, Any] = {"paths": paths}
        if config.soak_s > 0:
            result["soak"] = await soak(asker, client, config, paths, probe)
    return result


#: The mesh settings that bound its per-request records (``LoadConfig.retention_s``).
RECORD_RETENTION_VARS = ("ORCHESTRATOR_CACHE_FEEDBACK_WINDOW_S", "GUARDIAN_AUDIT_RETENTION_DAYS")


def run_bench_load(config: LoadConfig) -> dict[str, Any]:
    """Start the stand-in and a private mesh, ramp, soak, stop; the result JSON (see the module docstring)."""
    saved = {k: os.environ.get(k) for k in (*RECORD_RETENTION_VARS, "ORCHESTRATOR_CACHE_MAX_ENTRIES")}
    if config.cache_max_entries is not None:
        os.environ["ORCHESTRATOR_CACHE_MAX_ENTRIES"] = str(config.cache_max_entries)
    if config.retention_s is not None:
        os.environ["ORCHESTRATOR_CACHE_FEEDBACK_WINDOW_S"] = str(max(10, round(config.retention_s)))
        os.environ["GUARDIAN_AUDIT_RETENTION_DAYS"] = repr(config.retention_s / 86_400)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="alice-load-") as backend_logs,
            fixed_backend(config.delay_s, Path(backend_logs)) as backend,
        ):
            llm_url, llm_pid = backend.url, backend.popen.pid

            def use_stand_in(plan: MeshPlan) -> None:
                plan.ollama_host = llm_url

            with private_mesh("fixed", _say, config.logs, use_stand_in) as (mesh, key):
                probe = {"pids": mesh.pids(), "llm_url": llm_url, "redis_port": mesh.plan.redis_port}
                started = time.monotonic()
                result = asyncio.run(_measure(f"{mesh.plan.entry_url}/api/chat", key, config, probe))
                wall = time.monotonic() - started
                generations = httpx.get(f"{llm_url}/stats", timeout=5).json()["generations"]
                llm_rss = _rss_mb({"llm": llm_pid})["llm"]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {
        "bench": "load",
        "entry": "caddy → guardian → orchestrator (admin key: no rate limit), loopback",
        "llm": {
            "stand_in": "alice.cli.fixedbackend",
            "delay_s": config.delay_s,
            "generations": generations,
            "rss_mb": llm_rss,
        },
        "config": {k: v for k, v in asdict(config).items() if k not in ("paths", "logs")},
        "rule": "saturation: highest step below the first failing one with achieved ≥ 95 % of offered, "
        "errors < 1 %, p95 ≤ bound; soak rate = soak_load × the mix's saturation (harmonic, by shares)",
        **result,
        "wall_s": round(wall, 1),
    }
