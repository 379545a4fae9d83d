"""Retries with the seed plans' Fibonacci backoff (1, 1, 2, 3, 5, 8 s; ``FIB_RETRY_DELAYS``), through tenacity.

Only for calls that are safe to repeat (idempotent): downloading a pinned package, reading a health page. A chat
request is never retried here: its client decides, and ``Idempotency-Key`` makes that safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from alice.fibonacci import config, get_retry_backoff


def fibonacci_wait(state: RetryCallState) -> float:
    """Seconds before the next attempt: the ``attempt_number``-th Fibonacci delay."""
    return get_retry_backoff(state.attempt_number)


def idempotent_retrying(
    transient: Callable[[BaseException], bool],
    on_retry: Callable[[int, BaseException, float], None] = lambda _n, _exc, _wait: None,
    attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Retrying:
    """A tenacity ``Retrying`` for an idempotent call: errors ``transient`` accepts are retried after the Fibonacci
    delays, at most ``attempts`` times in all (``FIB_RETRY_MAX_ATTEMPTS``, 8); any other error, or the last one,
    is raised as it is. ``on_retry(attempt, error, wait_s)`` hears each retry (progress output)."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if exc is not None:
            on_retry(state.attempt_number, exc, wait)

    return Retrying(
        stop=stop_after_attempt(attempts or config().fib_retry_max_attempts),
        wait=fibonacci_wait,
        retry=retry_if_exception(transient),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
