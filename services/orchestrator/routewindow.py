"""The last ``size`` routing decisions, shared by the replicas in Redis: the micro route's share is capped.

The micro route answers with the small, fast prompt; ``ORCHESTRATOR_MICRO_MAX_SHARE`` caps the share of recent
requests it may take, so a burst of chit-chat cannot crowd the deep route's quality out of the traffic mix (the
seed plans' ``MICRO_MAX_SHARE``). When the share of micro decisions among the last ``size`` (100) reaches the
cap, a micro-eligible message goes to the next route (deep) with the reason ``micro_share_cap``. The window is a
Redis list (``LPUSH`` + ``LTRIM``), so every replica sees the same share; without Redis, or while Redis fails,
the window is kept in this process only (logged once).
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

import structlog
from redis.exceptions import RedisError

KEY = "alice:route:window"
#: Below this many recorded decisions the share is not enforced (too few to mean anything).
MIN_DECISIONS = 10

log = structlog.get_logger("orchestrator.routing")


class RouteWindow:
    """The recent routes (newest first) in Redis, falling back to an in-process window."""

    def __init__(self, redis: Any | None, size: int = 100, micro_max_share: float = 0.5) -> None:
        self._redis = redis
        self.size = size
        self.micro_max_share = micro_max_share
        self._local: deque[str] = deque(maxlen=size)
        self._degraded = False

    async def routes(self) -> list[str]:
        """The last ``size`` routes, newest first."""
        if self._redis is not None:
            try:
                raw = await self._redis.lrange(KEY, 0, self.size - 1)
            except (RedisError, OSError) as exc:
                self._degrade(exc)
            else:
                self._degraded = False
                return [r.decode() if isinstance(r, bytes) else str(r) for r in raw]
        return list(self._local)

    async def micro_allowed(self) -> bool:
        """False when micro already has its maximum share of the recent decisions."""
        if self.micro_max_share >= 1.0:
            return True
        routes = await self.routes()
        if len(routes) < MIN_DECISIONS:
            return True
        return routes.count("micro") / len(routes) < self.micro_max_share

    async def record(self, route: str) -> None:
        """Add one decision (the route that answered)."""
        self._local.appendleft(route)
        if self._redis is None:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.lpush(KEY, route)
                pipe.ltrim(KEY, 0, self.size - 1)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._degrade(exc)

    async def shares(self) -> dict[str, Any]:
        """Share of each route in the window, for ``/api/monitoring/routing``."""
        routes = await self.routes()
        counts = Counter(routes)
        total = len(routes)
        return {
            "window": total,
            "size": self.size,
            "micro_max_share": self.micro_max_share,
            "shared": self._redis is not None and not self._degraded,
            "shares": {route: round(n / total, 3) for route, n in sorted(counts.items())} if total else {},
        }

    def _degrade(self, exc: Exception) -> None:
        if not self._degraded:
            log.warning("route_window_degraded", error_type=type(exc).__name__, detail="using this process's window")
        self._degraded = True
