"""``alice bench balancer``: the φ load balancer's shares against its weights, and its failover.

1. **Shares**: 10,000 picks over 2, 3 and 4 backends with the φ weights (φ, φ⁻¹, φ⁻², …) and with equal weights
   (round robin, the baseline): the largest gap between an observed share and its weight's share.
2. **Failover** (real processes): two modelservers with ``--model`` behind one balancer, a steady stream of short
   completions; the primary is killed (SIGKILL). Reported: requests and failures around the kill, seconds until
   the primary's breaker opened (no more calls wait on it), the shares before and after, and seconds from the
   primary's return until its breaker closed and it took its share again.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import ollama

from alice.breaker import BreakerState
from alice.cli.mesh import free_port, uvicorn_command
from alice.fibonacci import load_fibonacci_config, phi_weights
from alice.models import models_dir

PICKS = 10_000


def _say(msg: str) -> None:
    print(f"bench balancer: {msg}", file=sys.stderr, flush=True)


def shares(weights: list[float], picks: int = PICKS) -> dict[str, Any]:
    """Observed shares of ``picks`` smooth weighted round-robin picks against the weights' shares."""
    from orchestrator.balancer import Backend, smooth_pick

    pool = [Backend(f"b{i}", None, w) for i, w in enumerate(weights)]  # type: ignore[arg-type]
    for _ in range(picks):
        smooth_pick(pool)
    expected = [w / sum(weights) for w in weights]
    observed = [b.picks / picks for b in pool]
    return {
        "expected": [round(e, 4) for e in expected],
        "observed": [round(o, 4) for o in observed],
        "max_abs_error": round(max(abs(o - e) for o, e in zip(observed, expected, strict=True)), 6),
    }


def _start_modelserver(model: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {"MODELSERVER_MODELS": model, "ALICE_MODELS_DIR": str(models_dir()), "ALICE_LOG_FORMAT": "json"}
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own command
            uvicorn_command("modelserver.app:create_app", port),
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"modelserver on {url} exited with {proc.returncode}")
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"modelserver on {url} not ready in {timeout_s:.0f} s")


class _Served:
    """A backend's adapter that counts the answers it served (the bench's own count, independent of the
    balancer's picks)."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.breaker = llm.breaker
        self.served = 0

    async def complete(self, *args: Any, **kwargs: Any) -> Any:
        answer = await self.llm.complete(*args, **kwargs)
        self.served += 1
        return answer

    async def ping(self) -> bool:
        return bool(await self.llm.ping())


async def _failover(model: str, urls: list[str], restart: Any, kill: Any) -> dict[str, Any]:
    from orchestrator.balancer import Backend, BalancedLlm
    from orchestrator.llm import OllamaLlm, llm_breaker

    clients = [ollama.AsyncClient(host=u, timeout=60) for u in urls]
    weights = phi_weights(len(urls), load_fibonacci_config())
    served = [_Served(OllamaLlm(c, model, 60, 5, breaker=llm_breaker(f"llm-{i + 1}"))) for i, c in enumerate(clients)]
    pool = [Backend(u, a, w) for u, a, w in zip(urls, served, weights, strict=True)]  # type: ignore[arg-type]
    balancer = BalancedLlm(pool, model)
    results: list[tuple[float, bool]] = []
    stop = False

    async def load() -> None:
        while not stop:
            started = time.monotonic()
            try:
                await balancer.complete([{"role": "user", "content": "Säg hej."}], 4, 0.0)
                results.append((started, True))
            except Exception:  # noqa: BLE001 - counted as a failed request
                results.append((started, False))

    async def probe() -> None:
        await pool[0].llm.breaker.probe_while_open(clients[0].list)

    tasks = [asyncio.create_task(load()) for _ in range(2)] + [asyncio.create_task(probe())]
    try:
        await asyncio.sleep(8)
        before = [a.served for a in served]
        killed = time.monotonic()
        kill()
        opened = None
        while time.monotonic() - killed < 10:
            if opened is None and pool[0].llm.breaker.state is not BreakerState.CLOSED:
                opened = time.monotonic() - killed
            await asyncio.sleep(0.05)
        during = [a.served for a in served]
        await asyncio.to_thread(restart)
        back = time.monotonic()
        closed = None
        while time.monotonic() - back < 30:
            if pool[0].llm.breaker.state is BreakerState.CLOSED:
                closed = time.monotonic() - back
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(15)
        after = [a.served for a in served]
    finally:
        stop = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def window(start: float, end: float) -> dict[str, int]:
        mine = [ok for at, ok in results if start <= at < end]
        return {"requests": len(mine), "failed": sum(1 for ok in mine if not ok)}

    def share(a: list[int], b: list[int]) -> list[float | None]:
        n = sum(b) - sum(a)
        return [round((y - x) / n, 3) if n else None for x, y in zip(a, b, strict=True)]

    return {
        "weights": [round(w, 4) for w in weights],
        "served_shares_before_kill": share([0, 0], before),
        "served_shares_while_down": share(before, during),
        "served_shares_after_return": share(during, after),
        "while_down": window(killed, back),
        "breaker_opened_after_s": round(opened, 3) if opened is not None else None,
        "breaker_closed_after_return_s": round(closed, 3) if closed is not None else None,
    }


def bench_balancer(model: str) -> dict[str, Any]:
    """Both parts (see the module docstring); the failover part needs the model pulled."""
    fib = load_fibonacci_config()
    result: dict[str, Any] = {"picks": PICKS, "shares": {}}
    for n in (2, 3, 4):
        result["shares"][f"{n}_backends"] = {"phi": shares(phi_weights(n, fib)), "round_robin": shares([1.0] * n)}
    with tempfile.TemporaryDirectory(prefix="alice-balancer-") as tmp:
        ports = [free_port(), free_port()]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        procs = [_start_modelserver(model, p, Path(tmp) / f"ms{i}.log") for i, p in enumerate(ports)]

        def kill() -> None:
            procs[0].kill()
            procs[0].wait(10)

        def restart() -> None:
            procs[0] = _start_modelserver(model, ports[0], Path(tmp) / "ms0.log")
            _wait_ready(urls[0], procs[0])

        try:
            for url, proc in zip(urls, procs, strict=True):
                _wait_ready(url, proc)
            _say(f"two modelservers with {model}; killing the primary after 8 s")
            result["failover"] = asyncio.run(_failover(model, urls, restart, kill))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(10)
    result["model"] = model
    return result
