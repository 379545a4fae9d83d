"""The load generator of ``alice bench peers``: the same questions to each target, over loopback, bounded.

A target is a way to ask one question over HTTP (:class:`Target`): Alice's ``POST /api/chat`` through Caddy with
the admin key, LiteLLM's OpenAI-style ``POST /v1/chat/completions``, or the backend's own Ollama ``POST
/api/chat``. :func:`run_phase` sends a list of prompts with ``concurrency`` workers; every loop is bounded by the
list's length and by a deadline (a request not sent before it counts as an error with status 0).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from alice.cli.peersmix import Prompt, Timed

REQUEST_TIMEOUT_S = 30.0
MODEL = "fixed"


@dataclass(frozen=True)
class Target:
    """Where and how to ask: URL, headers, the body for a question, and how a response says it was a hit."""

    name: str
    url: str
    headers: dict[str, str]
    body: Callable[[str], dict[str, Any]]
    hit: Callable[[httpx.Response], tuple[bool, str | None]]
    route: Callable[[httpx.Response], str | None] = lambda _r: None


def alice_target(entry_url: str, key: str) -> Target:
    """Alice through Caddy: a hit is ``X-Cache: hit`` (``X-Cache-Kind`` exact or semantic)."""

    def hit(r: httpx.Response) -> tuple[bool, str | None]:
        found = r.headers.get("x-cache") == "hit"
        return found, (r.headers.get("x-cache-kind") if found else None)

    return Target(
        "alice",
        f"{entry_url}/api/chat",
        {"Authorization": f"Bearer {key}"},
        lambda text: {"message": text},
        hit,
        lambda r: r.headers.get("x-route"),
    )


def litellm_target(base_url: str, key: str, model: str = MODEL) -> Target:
    """LiteLLM's proxy: a hit is a response carrying ``x-litellm-cache-key`` (only hits have it)."""

    def hit(r: httpx.Response) -> tuple[bool, str | None]:
        found = bool(r.headers.get("x-litellm-cache-key"))
        return found, ("exact" if found else None)

    return Target(
        "litellm",
        f"{base_url}/v1/chat/completions",
        {"Authorization": f"Bearer {key}"},
        lambda text: {"model": model, "messages": [{"role": "user", "content": text}]},
        hit,
    )


def direct_target(backend_url: str, model: str = MODEL) -> Target:
    """The backend itself, Ollama's ``/api/chat`` without streaming: never a hit."""
    return Target(
        "direct",
        f"{backend_url}/api/chat",
        {},
        lambda text: {"model": model, "messages": [{"role": "user", "content": text}], "stream": False},
        lambda _r: (False, None),
    )


async def _phase(target: Target, prompts: Sequence[Prompt], concurrency: int, deadline: float) -> list[Timed]:
    rows: list[Timed] = []
    queue = list(reversed(prompts))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport = AiohttpTransport(limits=limits, trust_env=False)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=limits, transport=transport) as client:

        async def worker() -> None:
            while queue:
                prompt = queue.pop()
                if time.monotonic() > deadline:
                    rows.append(Timed(prompt.kind, 0.0, 0, False))
                    continue
                started = time.perf_counter()
                try:
                    r = await client.post(target.url, json=target.body(prompt.text), headers=target.headers)
                    await r.aread()
                except httpx.HTTPError:
                    rows.append(Timed(prompt.kind, (time.perf_counter() - started) * 1000, 0, False))
                    continue
                ms = (time.perf_counter() - started) * 1000
                hit, kind = target.hit(r)
                rows.append(Timed(prompt.kind, ms, r.status_code, hit, kind, target.route(r)))

        await asyncio.gather(*(worker() for _ in range(min(concurrency, max(1, len(prompts))))))
    return rows


def run_phase(
    target: Target, prompts: Sequence[Prompt], concurrency: int, budget_s: float
) -> tuple[list[Timed], float]:
    """Send ``prompts`` to ``target`` with ``concurrency`` workers within ``budget_s``; rows and wall seconds."""
    started = time.perf_counter()
    rows = asyncio.run(_phase(target, prompts, concurrency, time.monotonic() + budget_s))
    return rows, time.perf_counter() - started
