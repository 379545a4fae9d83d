"""The load generator of ``alice bench load``: an open loop over one bounded ``httpx.AsyncClient``.

Open loop: request ``i`` is due at ``i / rate`` seconds, whatever happened to the ones before, so a gateway that
falls behind shows it as queueing (latency is measured from the due time, so waiting for a free connection or a
late send counts too) and as a lower achieved rate, not as a politely slower client. Every loop is bounded: a
phase sends at most ``rate × seconds`` requests, each request at most ``timeout_s``, at most ``max_in_flight``
at a time (a request due while that many are open is counted as failed, status 0, and not sent).

The questions: *cached* repeats a small set answered once before (exact hits), *uncached* asks a question never
asked before (numbered, so neither cache tier can answer it: NLU, routing, the LLM and the cache store run).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from alice.cli.loadmath import Outcome

#: The objectives' critical p95 (FIB_ALERT_P95_CRITICAL_MS's default): the ramp's latency bound.
SLO_CRITICAL_MS = 377.0


@dataclass(frozen=True)
class LoadConfig:
    """The bench's knobs (the CLI's options)."""

    delay_s: float = 0.2
    step_s: float = 10.0
    max_rps: float = 233.0
    soak_s: float = 600.0
    warmup_s: float = 60.0
    window_s: float = 60.0
    rss_every_s: float = 10.0
    cached_share: float = 0.7
    soak_load: float = 0.7
    connections: int = 64
    max_in_flight: int = 512
    timeout_s: float = 10.0
    #: The mesh's cache capacity: small enough to be full before the warm-up ends, so growth after it is not the
    #: cache's data (None: the product's 10,000).
    cache_max_entries: int | None = 610
    #: How long the mesh keeps its per-request records (the guardian's audit entries, the orchestrator's feedback
    #: links), seconds; None: the product's 90 days and 24 h. A value shorter than the warm-up lets them reach
    #: their steady state before growth is measured (a check for leaks beside the records' retention).
    retention_s: float | None = 30.0
    #: Soak at this rate and skip the ramp (None: ``soak_load`` × the mix's saturation from the ramp).
    soak_rps: float | None = None
    #: Keep the mesh's home (and its services' logs) here instead of a temporary folder.
    logs: Path | None = None
    paths: tuple[str, ...] = field(default=("cached", "uncached"))

    def p95_bound_ms(self, path: str) -> float:
        """The ramp's p95 bound of a path: the critical objective, plus the stand-in's delay when it waits on it."""
        return SLO_CRITICAL_MS + (self.delay_s * 1000 if path == "uncached" else 0.0)


#: Subjects of the unique questions (combined with a running number, so no two questions are alike); each one the
#: NLU files under ``info.query`` (deep route). A subject it took for ``memory.store`` ("att odla tomater") made
#: the memory tool keep the question, and every later deep answer of the key then carried it as recalled context,
#: so none was cached: a workload for the memory tier, not the cache.
TOPICS = (
    "hösten i Norrland",
    "Vasaloppet",
    "surdegsbröd",
    "Gotlands historia",
    "fjällvandring",
    "kanotpaddling",
    "svenska runstenar",
    "kanelbullar",
    "norrsken",
    "vinterbad",
    "Sveriges riksdag",
    "Astrid Lindgren",
    "Kebnekaise",
    "surströmming",
    "Nobelpriset",
    "Vänern",
)


@dataclass
class Asker:
    """Sends one chat question of a kind through the gateway and tells status and cache hit."""

    client: httpx.AsyncClient
    url: str
    key: str
    cached_questions: Sequence[str]
    timeout_s: float
    counter: itertools.count[int] = field(default_factory=itertools.count)
    routes: dict[str, Counter[str]] = field(default_factory=dict)

    def question(self, kind: str) -> str:
        i = next(self.counter)
        if kind == "cached":
            return self.cached_questions[i % len(self.cached_questions)]
        return f"Kan du berätta något kort om {TOPICS[i % len(TOPICS)]}? Det här är fråga nummer {i}."

    async def ask(self, kind: str) -> tuple[int, bool]:
        """(status, served from the cache); status 0 for no answer within the timeout or a transport error."""
        headers = {"Authorization": f"Bearer {self.key}"}
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self.client.post(self.url, json={"message": self.question(kind)}, headers=headers)
        except (httpx.HTTPError, TimeoutError):
            return 0, False
        hit = response.headers.get("X-Cache") == "hit"
        route = response.headers.get("X-Route", "none") if response.status_code == 200 else "error"
        if hit:
            route = f"{route}, {response.headers.get('X-Cache-Kind', '?')} hit"
        self.routes.setdefault(kind, Counter())[route] += 1
        return response.status_code, hit


async def open_loop(
    asker: Asker,
    rate: float,
    duration_s: float,
    kind_of: Callable[[int], str],
    max_in_flight: int,
) -> list[Outcome]:
    """Send ``rate`` requests a second for ``duration_s`` seconds (kinds by ``kind_of(i)``); wait for the last
    answers (each bounded by the asker's timeout); every request's outcome, due times relative to the start."""
    outcomes: list[Outcome] = []
    pending: set[asyncio.Task[None]] = set()
    start = time.monotonic()

    async def one(due_s: float, kind: str) -> None:
        lag_ms = (time.monotonic() - start - due_s) * 1000
        status, hit = await asker.ask(kind)
        outcomes.append(Outcome(due_s, kind, status, (time.monotonic() - start - due_s) * 1000, hit, lag_ms))

    for i in range(max(0, int(rate * duration_s))):
        due_s = i / rate
        wait = start + due_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        kind = kind_of(i)
        if len(pending) >= max_in_flight:
            outcomes.append(Outcome(due_s, kind, 0, 0.0))
            continue
        task = asyncio.create_task(one(due_s, kind))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    return sorted(outcomes, key=lambda o: o.due_s)
