"""The telemetry and warming settings, mixed into :class:`orchestrator.settings.OrchestratorSettings` (prefix
``ORCHESTRATOR_``). Both are off by default; both need the answer cache (``REDIS_URL``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from orchestrator.warming.budget import BudgetLimits
from orchestrator.warming.config import READ_ONLY_TOOLS, WarmingConfig


class WarmingSettings(BaseModel):
    """``ORCHESTRATOR_TELEMETRY_*`` and ``ORCHESTRATOR_WARMING_*``."""

    telemetry_enabled: bool = Field(
        default=False,
        description="Record answered chat requests in Redis for `alice predict train` (tenant, session hash, "
        "intent, route, cache hit; the redacted question only for intents the cache keeps). On with warming.",
    )
    telemetry_max_events: int = Field(default=10_000, ge=100, le=10_000_000, description="Events kept per tenant")
    telemetry_ttl_s: int = Field(
        default=7 * 86_400,
        ge=3600,
        le=90 * 86_400,
        description="Telemetry expires this long after a tenant's last request",
    )
    warming_enabled: bool = Field(
        default=False, description="Predictive cache warming: answer likely next questions ahead (needs a model)"
    )
    warming_model_dir: Path | None = Field(
        default=None, description="Where `alice predict train` writes the model; default $ALICE_HOME/warming"
    )
    warming_interval_s: float = Field(default=34.0, ge=1, le=3600, description="Seconds between warming runs")
    warming_active_window_s: float = Field(
        default=300.0, ge=10, le=1800, description="A session with a request this recent is active"
    )
    warming_max_sessions: int = Field(default=89, ge=1, le=10_000, description="Active sessions predicted per run")
    warming_max_warmups: int = Field(default=5, ge=0, le=1000, description="Answers computed per run at most")
    warming_max_seconds: float = Field(default=13.0, gt=0, le=3600, description="Seconds a run may spend warming")
    warming_max_candidates: int = Field(default=34, ge=1, le=10_000, description="Questions looked at per run")
    warming_top_intents: int = Field(default=3, ge=1, le=20, description="Likely next intents per session")
    warming_questions_per_intent: int = Field(default=3, ge=1, le=100, description="Questions per likely intent")
    warming_min_probability: float = Field(
        default=0.1, ge=0, le=1, description="A next intent less likely than this is not warmed"
    )
    warming_tools: str = Field(
        default=",".join(READ_ONLY_TOOLS),
        description="The only tools a warm-up may run (read-only ones); every other tool is refused",
    )

    def warming_config(self) -> WarmingConfig:
        """The warmer's configuration from these settings."""
        return WarmingConfig(
            interval_s=self.warming_interval_s,
            active_window_s=self.warming_active_window_s,
            max_sessions=self.warming_max_sessions,
            top_intents=self.warming_top_intents,
            questions_per_intent=self.warming_questions_per_intent,
            min_probability=self.warming_min_probability,
            limits=BudgetLimits(self.warming_max_warmups, self.warming_max_seconds, self.warming_max_candidates),
            tools=tuple(t.strip() for t in self.warming_tools.split(",") if t.strip()),
        )

    def warming_folder(self) -> Path:
        """The model folder: ``warming_model_dir``, else ``$ALICE_HOME/warming``."""
        from alice.settings import default_data_dir

        return self.warming_model_dir or default_data_dir() / "warming"
