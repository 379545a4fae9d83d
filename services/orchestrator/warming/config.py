"""The warmer's configuration (a light module: the settings import it without importing the chat flow)."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.warming.budget import BudgetLimits

#: Tools a warm-up may run: they read, they never act (no timers, memories, drafts or home control).
READ_ONLY_TOOLS = ("math.calculate", "weather.lookup")


@dataclass(frozen=True)
class WarmingConfig:
    """The warmer's knobs (``ORCHESTRATOR_WARMING_*``)."""

    interval_s: float = 34.0
    active_window_s: float = 300.0
    max_sessions: int = 89
    top_intents: int = 3
    questions_per_intent: int = 3
    min_probability: float = 0.1
    #: The newest telemetry events per tenant that question pools are counted from, and how long (seconds, on
    #: the warmer's clock) a tenant's pools are reused before they are counted again.
    pool_events: int = 2584
    pool_refresh_s: float = 300.0
    limits: BudgetLimits = field(default_factory=BudgetLimits)
    tools: tuple[str, ...] = READ_ONLY_TOOLS
    user: str = "alice-warmer"
