"""The breaker in front of one of the orchestrator's Redis users (the answer cache, the replay store).

Both bypass Redis on its first failure (a Redis call that fails once is failing for every request behind it),
let one trial through after each open time (1, 2, 3, 5, 8, 13 s), and close on one success. Only Redis's own
errors count; anything else is a bug and propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.exceptions import RedisError

from alice.breaker import BreakerPolicy, CircuitBreaker
from alice.fibonacci import get_breaker_open_time

FIRST_FAILURE = BreakerPolicy(window=1, min_calls=1, consecutive=1, half_open_calls=1, close_after=1)


def redis_breaker(
    name: str,
    what: str,
    clock: Callable[[], float] = time.monotonic,
    open_time: Callable[[int], float] = get_breaker_open_time,
) -> CircuitBreaker:
    return CircuitBreaker(
        name,
        FIRST_FAILURE,
        what=what,
        counts=lambda exc: isinstance(exc, RedisError | OSError),
        clock=clock,
        open_time=open_time,
    )
