"""``alice chaos``: kill the NLU, the modelserver and Redis in turn under a bounded load, and measure.

A private mesh (``alice up`` on free ports, Caddy in front, the given model) gets a steady load of chat requests
through Caddy: ``--concurrency`` clients asking tool questions ("vad är klockan", fast) and one client asking
for LLM answers (each unique, so none comes from the cache). After a calm baseline, each dependency in turn
is killed (SIGKILL: a crash), left down for ``--outage-s``, started again, and given time to recover. Meanwhile
the orchestrator's ``/api/monitoring/circuit-breakers`` is polled (signed with the mesh's internal secret).

Per outage it reports: requests, success rate and p95 of each kind, the 5xx count, seconds from the kill until
the dependency's breaker left ``closed`` (NLU: ``nlu``, modelserver: ``llm``), and seconds from the dependency
being ready again until its breaker closed. ``checks`` holds the issue's targets: NLU down → success ≥ 0.99;
Redis down → no 5xx; modelserver down → tool requests succeed; every breaker closed ≤ 13 s after its
dependency returned. Progress goes to stderr, the JSON to stdout.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from alice.cli.mesh import Mesh, MeshPlan, private_mesh
from alice.signing import Claims, sign_request
from alice.slo import percentile

TOOL_MESSAGES = (
    "vad är klockan",
    "vilket datum är det idag",
    "vad är 12 gånger 7",
    "vad är klockan i Tokyo",
    "sätt en timer på fem minuter",  # a tool that keeps its state in Redis
)
LLM_TOPICS = ("hösten", "en katt", "havet", "ett tåg", "snö", "kaffe", "en bok", "fjällen")
BREAKERS = {"nlu": "nlu", "modelserver": "llm", "redis": None}
ADMIN = Claims(tenant="chaos", role="admin", key_id="chaos", tools=())
RECOVERY_LIMIT_S = 13.0


def _say(msg: str) -> None:
    print(f"chaos: {msg}", file=sys.stderr, flush=True)


@dataclass
class Sample:
    at: float
    kind: str  # "tool" or "llm"
    status: int  # 0: no answer (transport error)
    ms: float
    code: str | None = None  # the problem code of an error answer


@dataclass
class Load:
    """The clients' results, appended as they come."""

    samples: list[Sample] = field(default_factory=list)
    stop: bool = False
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def message(self, kind: str) -> str:
        i = next(self.counter)
        if kind == "tool":
            return TOOL_MESSAGES[i % len(TOOL_MESSAGES)]
        return f"Skriv en kort mening om {LLM_TOPICS[i % len(LLM_TOPICS)]} (nummer {i})."

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.at <= end]


async def _client(load: Load, url: str, key: str, kind: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=60) as client:
        while not load.stop:
            message = load.message(kind)
            started = time.monotonic()
            code = None
            try:
                response = await client.post(url, json={"message": message}, headers=headers)
                status = response.status_code
                if status >= 400:
                    code = str(response.json().get("code"))
            except (httpx.HTTPError, ValueError):
                status = 0
            load.samples.append(Sample(started, kind, status, (time.monotonic() - started) * 1000, code))
            if status >= 500 or status == 0:
                await asyncio.sleep(0.2)  # a client backs off a little after an error


async def _breaker_state(client: httpx.AsyncClient, plan: MeshPlan, name: str) -> str | None:
    path = "/api/monitoring/circuit-breakers"
    headers = sign_request(plan.internal_secret.encode(), "GET", path, b"", ADMIN)
    try:
        response = await client.get(plan.url("orchestrator") + path, headers=headers)
        found = [b for b in response.json()["breakers"] if b["name"] == name]
    except (httpx.HTTPError, ValueError, KeyError):
        return None
    return str(found[0]["state"]) if found else None


def _stats(samples: list[Sample]) -> dict[str, Any]:
    errors = [s for s in samples if s.status >= 500 or s.status == 0]
    out: dict[str, Any] = {
        "requests": len(samples),
        "errors_5xx": len(errors),
        "error_codes": dict(sorted(Counter(f"{s.kind}:{s.status}:{s.code}" for s in errors).items())),
    }
    for kind in ("tool", "llm"):
        mine = [s for s in samples if s.kind == kind]
        ok = [s for s in mine if s.status == 200]
        out[kind] = {
            "requests": len(mine),
            "success_rate": round(len(ok) / len(mine), 4) if mine else None,
            "p95_ms": percentile(sorted(s.ms for s in mine), 95),
            "statuses": dict(sorted(Counter(str(s.status) for s in mine).items())),
        }
    total_ok = sum(1 for s in samples if s.status == 200)
    out["success_rate"] = round(total_ok / len(samples), 4) if samples else None
    return out


async def _outage(mesh: Mesh, load: Load, dependency: str, outage_s: float, settle_s: float) -> dict[str, Any]:
    plan = mesh.plan
    breaker = BREAKERS[dependency]
    _say(f"killing {dependency} for {outage_s:.0f} s")
    killed = time.monotonic()
    mesh.kill(dependency)
    opened_at: float | None = None
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() - killed < outage_s:
            if breaker and opened_at is None and await _breaker_state(client, plan, breaker) not in (None, "closed"):
                opened_at = time.monotonic()
            await asyncio.sleep(0.25)
        _say(f"starting {dependency} again")
        port = plan.redis_port if dependency == "redis" else None
        await asyncio.to_thread(mesh.restart, dependency, port)
        back = time.monotonic()
        closed_at: float | None = None
        while breaker and time.monotonic() - back < 60:
            if await _breaker_state(client, plan, breaker) == "closed":
                closed_at = time.monotonic()
                break
            await asyncio.sleep(0.25)
    await asyncio.sleep(settle_s)
    during = _stats(load.between(killed, back))
    result: dict[str, Any] = {
        "down_s": round(back - killed, 1),
        "during": during,
        "after": _stats(load.between(back, time.monotonic())),
        "breaker": breaker,
        "breaker_opened_after_s": round(opened_at - killed, 2) if opened_at else None,
        "breaker_closed_after_return_s": round(closed_at - back, 2) if closed_at else None,
    }
    _say(f"{dependency}: {during['requests']} requests while down, success {during['success_rate']}")
    return result


async def _run(mesh: Mesh, key: str, concurrency: int, outage_s: float, baseline_s: float) -> dict[str, Any]:
    load = Load()
    url = f"{mesh.plan.entry_url}/api/chat"
    kinds = ["tool"] * concurrency + ["llm"]
    clients = [asyncio.create_task(_client(load, url, key, kind)) for kind in kinds]
    try:
        _say(f"baseline for {baseline_s:.0f} s with {concurrency} tool clients and one LLM client")
        start = time.monotonic()
        await asyncio.sleep(baseline_s)
        phases = {"baseline": {"during": _stats(load.between(start, time.monotonic()))}}
        for dependency in ("nlu", "modelserver", "redis"):
            phases[dependency] = await _outage(mesh, load, dependency, outage_s, settle_s=5)
    finally:
        load.stop = True
        await asyncio.gather(*clients, return_exceptions=True)
    return phases


def _checks(phases: dict[str, Any]) -> dict[str, Any]:
    nlu, model, redis = phases["nlu"], phases["modelserver"], phases["redis"]
    closed = {d: phases[d]["breaker_closed_after_return_s"] for d in ("nlu", "modelserver")}
    return {
        "nlu_down_success_ge_0_99": (nlu["during"]["success_rate"] or 0) >= 0.99,
        "redis_down_no_5xx": redis["during"]["errors_5xx"] == 0,
        "modelserver_down_tools_succeed": (model["during"]["tool"]["success_rate"] or 0) >= 0.99,
        "breakers_closed_within_13_s": all(v is not None and v <= RECOVERY_LIMIT_S for v in closed.values()),
    }


def run_chaos(
    model: str, concurrency: int, outage_s: float, baseline_s: float, logs: Path | None = None
) -> dict[str, Any]:
    """Start a private mesh, run the outages, stop it; the result JSON (see the module docstring). With ``logs``
    the mesh's home (and its service logs) is kept there."""
    os.environ.setdefault("ORCHESTRATOR_CACHE_SEMANTIC", "false")  # unique LLM requests must reach the LLM
    with private_mesh(model, _say, logs) as (mesh, key):
        phases = asyncio.run(_run(mesh, key, concurrency, outage_s, baseline_s))
    return {
        "model": model,
        "concurrency": concurrency,
        "outage_s": outage_s,
        "phases": phases,
        "checks": _checks(phases),
    }
