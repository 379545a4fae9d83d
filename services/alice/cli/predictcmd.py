"""``alice predict train``: train the next-intent model of predictive cache warming from request telemetry.

The telemetry comes from Redis (what the orchestrator records with ``ORCHESTRATOR_TELEMETRY_ENABLED=true`` or
``ORCHESTRATOR_WARMING_ENABLED=true``) or from JSONL files of the same events (``--data``). The model goes to
``--out``, default ``ORCHESTRATOR_WARMING_MODEL_DIR`` or ``$ALICE_HOME/warming``, where a running orchestrator's
warmer picks it up within one interval. Progress goes to stderr, one JSON object to stdout.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alice.errors import ConfigError


def default_redis_url() -> str:
    """``REDIS_URL``, else the Redis of ``alice up`` on this machine."""
    return os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{os.environ.get('ALICE_REDIS_PORT') or 6379}/0"


def _from_files(paths: Sequence[Path]) -> list[Any]:
    from orchestrator.warming.sessions import EventFormatError, read_events

    events: list[Any] = []
    for path in paths:
        try:
            events += read_events(path)
        except EventFormatError as exc:
            raise ConfigError(str(exc)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read ({exc})") from None
    return events


def _from_redis(url: str) -> list[Any]:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from orchestrator.warming.telemetry import TelemetryRecorder

    async def read() -> list[Any]:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
        try:
            recorder = TelemetryRecorder(client, keep_text=lambda _intent: False)
            return [e for tenant in await recorder.tenants() for e in await recorder.events(tenant)]
        finally:
            await client.aclose()

    try:
        return asyncio.run(read())
    except (RedisError, OSError) as exc:
        raise ConfigError(f"cannot read telemetry from {url}: {exc}") from None


def predict_train(
    redis_url: str | None,
    data: Sequence[Path] | None,
    out: Path | None,
    test_share: float,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Read the telemetry, train, save; the report as a dict."""
    from alice.settings import model_dir
    from orchestrator.warming.training import ForestParams, NotEnoughDataError, train

    if not 0 <= test_share < 1:
        raise ConfigError(f"--test-share must be at least 0 and below 1, not {test_share}")
    source = ", ".join(str(p) for p in data) if data else (redis_url or default_redis_url())
    events = _from_files(data) if data else _from_redis(source)
    say(f"predict: {len(events)} events from {source}")
    if not events:
        raise ConfigError(
            f"no telemetry in {source}: run the orchestrator with ORCHESTRATOR_TELEMETRY_ENABLED=true for a while, "
            "or pass --data FILE (JSONL events)"
        )
    try:
        model, report = train(events, ForestParams(random_state=seed), test_share, say)
    except NotEnoughDataError as exc:
        raise ConfigError(f"not enough telemetry in {source}: {exc}") from None
    folder = out or model_dir("ORCHESTRATOR_WARMING_MODEL_DIR", "warming")
    path = model.save(folder)
    say(f"predict: model written to {path}")
    return {"source": "files" if data else "redis", "model": str(path), **report}
