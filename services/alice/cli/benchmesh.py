"""``alice bench mesh``: what each hop costs, measured in one run on a request that needs no LLM.

The same signed ``GET /api/status`` goes (a) through Caddy → guardian → orchestrator, (b) to the guardian
directly, (c) to the orchestrator directly (signed here with the mesh's internal secret). The differences
between the three are the cost of Caddy and of the guardian; ratios come from the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import psutil
from httpx_aiohttp import AiohttpTransport

from alice import models as model_catalogue
from alice.cli.mesh import MeshPlan, private_mesh
from alice.signing import Claims, sign_request

WARMUP = 30


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _pct(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return round(sorted_ms[k], 3)


async def _load(url: str, headers_for: Callable[[], dict[str, str]], n: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    remaining = n
    limits = httpx.Limits(max_connections=concurrency)
    transport = AiohttpTransport(limits=limits, trust_env=False)  # the cheaper client: less noise in the numbers
    async with httpx.AsyncClient(timeout=10, limits=limits, transport=transport) as client:
        for _ in range(WARMUP):
            await client.get(url, headers=headers_for())

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                try:
                    r = await client.get(url, headers=headers_for())
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += 0 if ok else 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    latencies.sort()
    return {
        "p50_ms": _pct(latencies, 0.50),
        "p95_ms": _pct(latencies, 0.95),
        "p99_ms": _pct(latencies, 0.99),
        "mean_ms": round(statistics.fmean(latencies), 3),
        "rps": round(n / wall, 1),
        "errors": errors,
        "n": n,
    }


def _rss_mb(pids: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            proc = psutil.Process(pid)
            total = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            out[name] = round(total / 2**20, 1)
        except psutil.Error:
            out[name] = float("nan")
    return out


def run_bench_mesh(n: int, levels: list[int], transports: list[str]) -> dict[str, Any]:
    """For each inter-service transport: a private mesh on free ports, the three entry points measured."""
    model = model_catalogue.TEST_MODEL
    if not model_catalogue.is_ready(model_catalogue.resolve(model), model_catalogue.models_dir()):
        model_catalogue.pull(model)
    runs = {t: _run_one(model, n, levels, t) for t in transports}
    out: dict[str, Any] = {
        "bench": "mesh",
        "request": "GET /api/status (signed, no NLU, no LLM)",
        "load_client": "httpx over aiohttp, in a separate process from the services",
        "requests_per_point": n,
        "transports": runs,
    }
    if {"httpx", "aiohttp"} <= runs.keys():
        out["guardian_hop_p50_ratio_aiohttp_vs_httpx"] = {
            f"c{c}": _ratio(
                runs["aiohttp"]["hop_cost"][f"c{c}"]["guardian_added_p50_ms"],
                runs["httpx"]["hop_cost"][f"c{c}"]["guardian_added_p50_ms"],
            )
            for c in levels
        }
    return out


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


def _run_one(model: str, n: int, levels: list[int], transport: str) -> dict[str, Any]:
    def use_transport(plan: MeshPlan) -> None:
        plan.http_transport = transport

    _log(f"bench mesh: the {transport} transport")
    with private_mesh(model, _log, prepare=use_transport) as (mesh, key):
        time.sleep(1.0)
        rss_idle = _rss_mb(mesh.pids())
        results = _measure(mesh.plan, key, n, levels)
        rss_after = _rss_mb(mesh.pids())
    return {
        "results": results,
        "hop_cost": _hop_costs(results, levels),
        "rss_mb": {"idle": rss_idle, "after": rss_after},
    }


def _measure(plan: MeshPlan, key: str, n: int, levels: list[int]) -> dict[str, dict[str, Any]]:
    secret = plan.internal_secret.encode()
    claims = Claims(tenant="dev", role="admin", key_id="bench")
    bearer = {"Authorization": f"Bearer {key}"}

    def signed() -> dict[str, str]:
        return sign_request(secret, "GET", "/api/status", b"", claims)

    targets: dict[str, tuple[str, Callable[[], dict[str, str]]]] = {
        "caddy": (f"{plan.entry_url}/api/status", lambda: bearer),
        "guardian": (f"{plan.url('guardian')}/api/status", lambda: bearer),
        "orchestrator": (f"{plan.url('orchestrator')}/api/status", signed),
    }
    results: dict[str, dict[str, Any]] = {name: {} for name in targets}
    for c in levels:
        for name, (url, headers_for) in targets.items():
            _log(f"bench mesh: {plan.http_transport} {name} c={c} n={n}")
            results[name][f"c{c}"] = asyncio.run(_load(url, headers_for, n, c))
    return results


def _hop_costs(results: dict[str, dict[str, Any]], levels: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in levels:
        key = f"c{c}"
        cad, gua, orc = (results[t][key] for t in ("caddy", "guardian", "orchestrator"))
        out[key] = {
            "caddy_added_p50_ms": round(cad["p50_ms"] - gua["p50_ms"], 3),
            "guardian_added_p50_ms": round(gua["p50_ms"] - orc["p50_ms"], 3),
            "p50_ratio_caddy_vs_orchestrator": round(cad["p50_ms"] / orc["p50_ms"], 2),
            "p50_ratio_guardian_vs_orchestrator": round(gua["p50_ms"] / orc["p50_ms"], 2),
            "rps_ratio_caddy_vs_orchestrator": round(cad["rps"] / orc["rps"], 3),
        }
    return out
