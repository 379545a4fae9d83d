"""Brownout: the guardian sheds work when the machine is overloaded, and recovers with hysteresis.

A background sampler reads CPU and memory use (psutil) every ``interval_s``. The state machine
(:class:`LoadState`) moves up at once: a sample at or above the EMERGENCY thresholds enters EMERGENCY, one at or
above the BROWNOUT thresholds enters BROWNOUT — so a crossing is acted on within one sample interval. It moves
down one level only after every sample for ``hold_s`` seconds stayed below that level's *exit* thresholds, which
lie under the entry thresholds (no flapping around one number).

- NORMAL: everything as usual.
- BROWNOUT: the signed claims say ``load=brownout``; the orchestrator then answers with tools and the small micro
  route only (no planner, no deep).
- EMERGENCY: non-admin chat requests are refused with 503 ``overloaded`` and ``Retry-After``; admins still pass.

CPU is the system-wide share over the last interval (``psutil.cpu_percent``), memory the share in use
(``virtual_memory().percent``). CPU is not watched by default: on the machine the LLM runs on, CPU sits near 100 %
during every answer, which is work, not overload (set the CPU thresholds for a guardian on a host of its own).
``GET /guardian/state`` shows the state, the last sample and the thresholds;
transitions are logged and counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import structlog

from alice.errors import ServiceError

log = structlog.get_logger("guardian.brownout")

NORMAL: Final = "normal"
BROWNOUT: Final = "brownout"
EMERGENCY: Final = "emergency"
LEVELS: Final = (NORMAL, BROWNOUT, EMERGENCY)


class OverloadedError(ServiceError):
    status, code, title = 503, "overloaded", "Alice is overloaded"


@dataclass(frozen=True)
class Thresholds:
    """Entry and exit percentages of each level, and how long a level must stay calm to step down."""

    #: None: CPU is not watched (the default: where the LLM runs, CPU near 100 % during an answer is work, not
    #: overload).
    brownout_cpu: float | None = 85.0
    brownout_memory: float = 85.0
    emergency_cpu: float | None = 97.0
    emergency_memory: float = 95.0
    #: Exit a level once CPU and memory stayed this many points under its entry thresholds for ``hold_s``.
    margin: float = 15.0
    hold_s: float = 10.0

    def level_of(self, cpu: float, memory: float) -> int:
        """The level a sample asks for on the way up (0 normal, 1 brownout, 2 emergency)."""
        if _over(cpu, self.emergency_cpu) or memory >= self.emergency_memory:
            return 2
        if _over(cpu, self.brownout_cpu) or memory >= self.brownout_memory:
            return 1
        return 0

    def calm_below(self, level: int, cpu: float, memory: float) -> bool:
        """Whether a sample is under the exit thresholds of ``level`` (1 or 2): its entry thresholds less the
        margin — for emergency never below brownout's entry, so a machine that would start in brownout is not
        held in emergency."""
        if level == 2:
            cpu_exit = _exit(self.emergency_cpu, self.margin, self.brownout_cpu)
            memory_exit = max(self.emergency_memory - self.margin, self.brownout_memory)
        else:
            cpu_exit = _exit(self.brownout_cpu, self.margin, None)
            memory_exit = self.brownout_memory - self.margin
        return (cpu_exit is None or cpu < cpu_exit) and memory < memory_exit


def _exit(entry: float | None, margin: float, floor: float | None) -> float | None:
    if entry is None:
        return None
    return max(entry - margin, floor) if floor is not None else entry - margin


def _over(value: float, threshold: float | None) -> bool:
    return threshold is not None and value >= threshold


@dataclass
class Sample:
    cpu: float
    memory: float
    at: float


class LoadState:
    """The state machine (pure: samples and times in, transitions out)."""

    def __init__(self, thresholds: Thresholds, on_change: Callable[[str, str, Sample], None] = lambda *_: None) -> None:
        self.thresholds = thresholds
        self.level = 0
        self.since = time.time()
        self.last: Sample | None = None
        self._calm_since: float | None = None
        self._on_change = on_change

    @property
    def state(self) -> str:
        return LEVELS[self.level]

    def observe(self, sample: Sample) -> str:
        """Take one sample; returns the state after it."""
        self.last = sample
        wanted = self.thresholds.level_of(sample.cpu, sample.memory)
        if wanted > self.level:
            self._move(wanted, sample)
        elif self.level > 0 and self.thresholds.calm_below(self.level, sample.cpu, sample.memory):
            if self._calm_since is None:
                self._calm_since = sample.at
            elif sample.at - self._calm_since >= self.thresholds.hold_s:
                self._move(self.level - 1, sample)
        else:
            self._calm_since = None
        return self.state

    def _move(self, level: int, sample: Sample) -> None:
        before = self.state
        self.level, self.since, self._calm_since = level, sample.at, None
        log.warning("load_state_changed", before=before, after=self.state, cpu=sample.cpu, memory=sample.memory)
        self._on_change(before, self.state, sample)

    def view(self) -> dict[str, Any]:
        """What ``GET /guardian/state`` shows."""
        t = self.thresholds
        return {
            "state": self.state,
            "since": self.since,
            "cpu_percent": self.last.cpu if self.last else None,
            "memory_percent": self.last.memory if self.last else None,
            "thresholds": {
                "brownout": {"cpu": t.brownout_cpu, "memory": t.brownout_memory},
                "emergency": {"cpu": t.emergency_cpu, "memory": t.emergency_memory},
                "exit_margin": t.margin,
                "hold_s": t.hold_s,
            },
        }


def psutil_reading() -> tuple[float, float]:
    """System CPU share since the last call and memory share in use, in percent."""
    import psutil

    return float(psutil.cpu_percent(interval=None)), float(psutil.virtual_memory().percent)


class Sampler:
    """Feeds :class:`LoadState` from ``read`` every ``interval_s`` in a background task."""

    def __init__(self, state: LoadState, interval_s: float, read: Callable[[], tuple[float, float]]) -> None:
        self.state = state
        self.interval_s = interval_s
        self.read = read
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.read()  # psutil's first CPU reading is meaningless: prime it
        self._task = asyncio.create_task(self._run(), name="brownout-sampler")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                cpu, memory = self.read()
            except Exception as exc:  # noqa: BLE001 (a failed reading keeps the state; say so)
                log.warning("load_sample_failed", error=type(exc).__name__)
                continue
            self.state.observe(Sample(cpu, memory, time.time()))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


class ShedLoad:
    """Admission (after authentication): EMERGENCY refuses non-admins with 503; BROWNOUT marks the request so the
    signed claims carry it."""

    def __init__(self, state: LoadState, retry_after_s: float) -> None:
        self.state = state
        self.retry_after_s = retry_after_s

    async def __call__(self, request: Any) -> None:
        level = self.state.level
        if level == 0:
            return
        if level >= 2 and (request.key is None or request.key.role != "admin"):
            raise OverloadedError(
                "Alice is overloaded right now and only serves administrators; try again shortly.",
                retry_after=self.retry_after_s,
            )
        request.load = BROWNOUT
