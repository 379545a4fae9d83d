"""How much one warming run may spend: warm-ups (answers computed, usually LLM calls), wall-clock seconds, and
candidates looked at (each costs a cache lookup). A run stops at the first limit it reaches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BudgetLimits:
    """The limits of one run (``ORCHESTRATOR_WARMING_MAX_WARMUPS`` / ``…_MAX_SECONDS`` / ``…_MAX_CANDIDATES``)."""

    warmups: int = 5
    seconds: float = 13.0
    candidates: int = 34


class Budget:
    """One run's spending against its :class:`BudgetLimits`; the clock is injected for tests."""

    def __init__(self, limits: BudgetLimits, clock: Callable[[], float] = time.perf_counter) -> None:
        self.limits = limits
        self._clock = clock
        self._started = clock()
        self.warmups = 0
        self.candidates = 0

    @property
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return self._clock() - self._started

    def stop_reason(self) -> str | None:
        """Why the run must stop before its next candidate (``warmups``, ``seconds``, ``candidates``), or None."""
        if self.warmups >= self.limits.warmups:
            return "warmups"
        if self.elapsed_s >= self.limits.seconds:
            return "seconds"
        if self.candidates >= self.limits.candidates:
            return "candidates"
        return None

    def looked_at(self) -> None:
        """One candidate was looked at."""
        self.candidates += 1

    def warmed(self) -> None:
        """One answer was computed for the cache."""
        self.warmups += 1
