"""Fibonacci retries for idempotent calls (tenacity; pure logic with a recorded sleep)."""

from __future__ import annotations

import pytest

from alice.models import DownloadFailedError, _transient
from alice.retry import idempotent_retrying


def test_transient_errors_are_retried_after_the_fibonacci_delays() -> None:
    slept: list[float] = []
    heard: list[tuple[int, float]] = []
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 5:
            raise DownloadFailedError("connection reset", permanent=False)
        return "wheel"

    retrying = idempotent_retrying(_transient, lambda n, _e, w: heard.append((n, w)), sleep=slept.append)
    assert retrying(flaky) == "wheel"
    assert slept == [1.0, 1.0, 2.0, 3.0] and [n for n, _ in heard] == [1, 2, 3, 4]


def test_a_permanent_error_is_raised_at_once_and_attempts_are_bounded() -> None:
    slept: list[float] = []

    def missing() -> None:
        raise DownloadFailedError("No matching distribution found", permanent=True)

    with pytest.raises(DownloadFailedError):
        idempotent_retrying(_transient, sleep=slept.append)(missing)
    assert slept == []

    def always_down() -> None:
        raise DownloadFailedError("network unreachable", permanent=False)

    with pytest.raises(DownloadFailedError, match="unreachable"):
        idempotent_retrying(_transient, attempts=4, sleep=slept.append)(always_down)
    assert slept == [1.0, 1.0, 2.0]  # four attempts, three waits
