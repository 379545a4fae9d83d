"""The soak of ``alice bench load``: a mix of cached and uncached questions at a fraction of the mix's saturation
for a bounded time, with the services' RSS, the cache's size and Redis's memory sampled meanwhile.

Growth after warm-up separates a leak from data: the cache's entries (Redis, and each replica's vector index)
are sampled beside the RSS, so a process that grows with the entries it was asked to keep is told apart from
one that grows at a constant number of entries.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from alice.cli.benchmesh import _rss_mb
from alice.cli.loadgen import Asker, LoadConfig, open_loop
from alice.cli.loadmath import Outcome, drift_pct, growth_pct, kind_at, mix_capacity, window_stats, windows
from alice.errors import ConfigError
from alice.slo import percentile

#: The services whose RSS growth the soak holds under 5 %.
SERVICES = ("caddy", "guardian", "orchestrator", "nlu", "redis")
MAX_GROWTH_PCT = 5.0


Sample = dict[str, Any]


async def _probe(client: httpx.AsyncClient, redis: Redis, asker: Asker, pids: dict[str, int]) -> Sample:
    """One sample: RSS per service (MB), the cache's entries and index size, Redis's used memory (MB)."""
    sample: Sample = {"rss_mb": _rss_mb(pids)}
    url = asker.url.replace("/api/chat", "/api/monitoring/cache")
    try:
        response = await client.get(url, headers={"Authorization": f"Bearer {asker.key}"}, timeout=5)
        stats = response.json()
        sample["cache_entries"] = stats.get("entries")
        sample["index_entries"] = stats.get("index_entries")
    except (httpx.HTTPError, ValueError):
        sample["cache_entries"] = sample["index_entries"] = None
    try:
        info = await redis.info("memory")
        sample["redis_used_mb"] = round(int(info["used_memory"]) / 2**20, 2)
        sample["redis_keys"] = int(await redis.dbsize())
    except (RedisError, KeyError, ValueError):
        sample["redis_used_mb"] = sample["redis_keys"] = None
    return sample


async def _sampler(
    client: httpx.AsyncClient, asker: Asker, probe: dict[str, Any], config: LoadConfig, out: list[Sample]
) -> None:
    """Sample every ``rss_every_s`` until the soak's end (bounded in count and time)."""
    redis = Redis(host="127.0.0.1", port=int(probe["redis_port"]), socket_timeout=5, socket_connect_timeout=2)
    start = time.monotonic()
    try:
        for i in range(int(config.soak_s // config.rss_every_s) + 1):
            wait = start + i * config.rss_every_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            sample = await _probe(client, redis, asker, probe["pids"])
            out.append({"t_s": round(time.monotonic() - start, 1), **sample})
    finally:
        await redis.aclose()


def _series(samples: Sequence[Sample], pick: str, name: str | None = None) -> list[tuple[float, float]]:
    out = []
    for s in samples:
        value = s[pick].get(name) if name is not None else s[pick]
        out.append((float(s["t_s"]), float(value) if value is not None else math.nan))
    return out


def _at_window_ends(samples: Sequence[Sample], window_s: float, count: int) -> list[Sample]:
    """The last sample within each window (the first sample stands for the start)."""
    out = []
    for w in range(count):
        inside = [s for s in samples if s["t_s"] <= (w + 1) * window_s + 1]
        out.append(inside[-1] if inside else samples[0])
    return out


def _memory(samples: Sequence[Sample], config: LoadConfig) -> dict[str, Any]:
    """RSS growth per service after warm-up, and the data beside it (cache entries, Redis used memory)."""
    count = int(config.soak_s // config.window_s)
    ends = _at_window_ends(samples, config.window_s, count) if samples else []
    rss: dict[str, Any] = {}
    for name in samples[0]["rss_mb"] if samples else []:
        rss[name] = {
            "start": samples[0]["rss_mb"][name],
            "by_window": [s["rss_mb"][name] for s in ends],
            "growth_pct": growth_pct(_series(samples, "rss_mb", name), config.warmup_s),
        }
    data: dict[str, Any] = {}
    for pick in ("cache_entries", "index_entries", "redis_used_mb", "redis_keys"):
        data[pick] = {
            "start": samples[0][pick] if samples else None,
            "by_window": [s[pick] for s in ends],
            "growth_pct": growth_pct(_series(samples, pick), config.warmup_s),
        }
    return {"rss_mb": rss, "data": data, "samples": len(samples)}


def _summary(outcomes: Sequence[Outcome], config: LoadConfig) -> dict[str, Any]:
    per_window = [window_stats(w) for w in windows(outcomes, config.window_s, config.soak_s)]
    first = min(len(per_window) - 1, math.ceil(config.warmup_s / config.window_s)) if per_window else 0
    p95s = [p if isinstance(p := w["p95_ms"], float) else None for w in per_window]
    p95_first, p95_last = (p95s[first], p95s[-1]) if p95s else (None, None)
    errors = [o for o in outcomes if not o.ok]
    cached = [o for o in outcomes if o.kind == "cached" and o.ok]
    uncached = [o for o in outcomes if o.kind == "uncached" and o.ok]
    return {
        "requests": len(outcomes),
        "errors": len(errors),
        "error_rate": round(len(errors) / len(outcomes), 5) if outcomes else None,
        "overall": window_stats(outcomes),
        "cached_hit_rate": round(sum(o.cache_hit for o in cached) / len(cached), 4) if cached else None,
        "uncached_hit_rate": round(sum(o.cache_hit for o in uncached) / len(uncached), 4) if uncached else None,
        "first_window_after_warmup": first,
        "p95_first_ms": p95_first,
        "p95_last_ms": p95_last,
        "p95_drift_pct": drift_pct(p95_first, p95_last),
        "generator_lag_p95_ms": percentile(sorted(o.lag_ms for o in outcomes), 95),
        "windows": per_window,
    }


async def soak(
    asker: Asker, client: httpx.AsyncClient, config: LoadConfig, paths: dict[str, Any], probe: dict[str, Any]
) -> dict[str, Any]:
    """Run the soak (see the module docstring); its JSON."""
    shares = {"cached": config.cached_share, "uncached": 1.0 - config.cached_share}
    capacities = {p: float(paths.get(p, {}).get("saturation_rps", 0.0)) for p in shares}
    capacity = mix_capacity(shares, capacities)
    if config.soak_rps is not None:
        rate = config.soak_rps  # given: no ramp ran
    elif capacity <= 0:
        raise ConfigError(f"no saturation measured for a path of the mix ({capacities}); nothing to soak at")
    else:
        rate = round(config.soak_load * capacity, 2)
    mix = [(k, v) for k, v in shares.items() if v > 0]
    print(f"bench load: soak at {rate}/s for {config.soak_s:g} s, mix {shares}", file=sys.stderr, flush=True)
    samples: list[Sample] = []
    sampler = asyncio.create_task(_sampler(client, asker, probe, config, samples))
    outcomes = await open_loop(asker, rate, config.soak_s, lambda i: kind_at(i, mix), config.max_in_flight)
    await sampler
    summary = _summary(outcomes, config)
    memory = _memory(samples, config)
    growth = {s: memory["rss_mb"].get(s, {}).get("growth_pct") for s in SERVICES}
    return {
        "mix": shares,
        "mix_saturation_rps": round(capacity, 2) if config.soak_rps is None else None,
        "rate_rps": rate,
        "duration_s": config.soak_s,
        "warmup_s": config.warmup_s,
        "window_s": config.window_s,
        **summary,
        "memory": memory,
        "routes": {k: dict(v) for k, v in asker.routes.items()},
        "checks": {
            "no_errors": summary["errors"] == 0,
            "rss_growth_under_5_pct": all(g is not None and g < MAX_GROWTH_PCT for g in growth.values()),
        },
    }
