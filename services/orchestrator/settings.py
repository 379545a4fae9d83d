"""The orchestrator's settings (env prefix ``ORCHESTRATOR_``; shared names such as ``OLLAMA_HOST`` as-is)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from alice.models import DEFAULT_MODEL
from alice.settings import SignedServiceSettings
from orchestrator.schemas import DEFAULT_MAX_MESSAGE_CHARS


def _alias(shared: str, field: str) -> AliasChoices:
    """Accept the shared variable, the prefixed one, and the field name (for ``Settings(field=...)``)."""
    return AliasChoices(f"ORCHESTRATOR_{field.upper()}", shared, field)


class OrchestratorSettings(SignedServiceSettings):
    """Where the NLU, the LLM and Redis are, and how the orchestrator talks to them."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_", extra="ignore", case_sensitive=False)

    port: int = Field(default=8000, ge=0, le=65535)
    nlu_url: str = "http://127.0.0.1:9002"
    nlu_timeout_s: float = Field(default=2.0, gt=0, le=60)
    breaker_shared: bool = Field(
        default=False,
        validation_alias=_alias("ALICE_BREAKER_SHARED", "breaker_shared"),
        description="Share circuit-breaker openings between replicas through Redis (NLU, LLM, weather)",
    )
    nlu_fallback: bool = Field(
        default=True, description="While the NLU is down, answer unmistakable tool questions by rules (fallback_nlu)"
    )
    ollama_host: str = Field(default="http://127.0.0.1:11434", validation_alias=_alias("OLLAMA_HOST", "ollama_host"))
    llm_backends: str = Field(
        default="",
        description="Several Ollama-API servers, primary first ('http://a:11434,http://b:11434'): the φ load "
        "balancer spreads LLM calls over them (ENABLE_PHI_LOAD_BALANCER; off: round robin). Unset: OLLAMA_HOST",
    )
    # A plain model name handed to the Ollama client; a real Ollama names its models differently.
    model: str = DEFAULT_MODEL
    llm_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    redis_url: str | None = Field(default=None, validation_alias=_alias("REDIS_URL", "redis_url"))
    max_message_chars: int = Field(
        default=DEFAULT_MAX_MESSAGE_CHARS,
        ge=1,
        le=100_000,
        description="Longest message accepted from the guardian (whose own limit, 4000, is the one users meet)",
    )
    slo_success_rate: float = Field(default=0.99, gt=0, le=1, description="Objective: share of answers without 5xx")
    slo_cache_hit_rate: float | None = Field(
        default=0.7, gt=0, le=1, description="Objective: share of chat answers from the cache (the seed plans' 70 %)"
    )
    idempotency_ttl_s: int = Field(
        default=86_400, ge=60, le=7 * 86_400, description="How long an Idempotency-Key's answer is kept (Redis)"
    )
    temperature: float = Field(default=0.3, ge=0, le=2)
    num_predict_micro: int = Field(default=128, ge=1, le=8192)
    num_predict_deep: int = Field(default=384, ge=1, le=32768)
    # Tokens for one planner step ({"namn", "uppgift", "svar"}).
    num_predict_planner: int = Field(default=160, ge=16, le=8192)
    # A larger model for the deep route (a name the LLM server knows); empty: the model above, with the longer
    # deep budget.
    deep_model: str = ""
    # A smaller, faster model for the micro route's short answers; empty: the model above.
    micro_model: str = ""
    # Small models loop on long Swedish answers; a mild penalty keeps them from repeating whole sentences.
    repeat_penalty: float = Field(default=1.15, ge=0.5, le=2.0)
    llm_retry_after_s: float = Field(default=5.0, gt=0)

    # -- the answer cache (needs REDIS_URL; see docs/CACHE.md) --
    cache_enabled: bool = True
    cache_semantic: bool = True
    # Floor of cosine - 0.05 / words (shorter question); None: the matcher's default, calibrated on the dev pairs.
    cache_threshold: float | None = Field(default=None, ge=0.5, le=1.0)
    cache_max_entries: int = Field(default=10_000, ge=1, le=10_000_000)
    # Seconds a tenant's question whose upstream failed (502/503/504) is answered with that failure again.
    cache_negative_ttl_s: int = Field(default=5, ge=0, le=3600)
    # Intents never cached: live data, the user's own state, and actions with side effects.
    cache_never_intents: str = "time.now,date.today,timer.*,calendar.*,email.*,memory.*,home.control"
    # Intents cached for a fixed short TTL that never climbs the tiers ("intent=seconds,...").
    cache_volatile_intents: str = "weather.lookup=600"
    # Part of every cache key: bump it when the guardian's policy changes what answers may say.
    cache_policy_version: str = Field(default="1", min_length=1, max_length=64)
    cache_redis_timeout_s: float = Field(default=0.5, gt=0, le=30)
    # Each replica rebuilds its vector index from Redis at least this often (it follows Redis's log between).
    cache_index_resync_s: float = Field(default=300.0, gt=0)
    # Spiral index: lattice cells probed per lookup (of FIB_SPIRAL_POINTS), and the scope size scanned exactly.
    cache_spiral_probes: int = Field(default=21, ge=1, le=100_000)
    cache_spiral_exact_below: int = Field(default=1024, ge=0)

    # -- routing --
    # Largest share of the last 100 answered requests the micro route may take (the seed's MICRO_MAX_SHARE);
    # beyond it micro-eligible messages go to deep. 1.0 disables the cap.
    micro_max_share: float = Field(
        default=0.5, gt=0, le=1.0, validation_alias=_alias("MICRO_MAX_SHARE", "micro_max_share")
    )
    route_window: int = Field(default=100, ge=10, le=100_000)

    # -- tools --
    # Open-Meteo's geocoding and forecast APIs (base URLs; point them at a mirror or a test server).
    weather_geocoding_url: str = "https://geocoding-api.open-meteo.com"
    weather_forecast_url: str = "https://api.open-meteo.com"

    def llm_hosts(self) -> list[str]:
        """The LLM servers: ``llm_backends`` when set, else ``ollama_host``."""
        return [h.strip() for h in self.llm_backends.split(",") if h.strip()] or [self.ollama_host]
