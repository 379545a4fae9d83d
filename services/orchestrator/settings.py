"""The orchestrator's settings (env prefix ``ORCHESTRATOR_``; shared names such as ``OLLAMA_HOST`` as-is)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from alice.models import DEFAULT_MODEL
from alice.settings import SignedServiceSettings
from orchestrator.scaling.targets import parse_service_map
from orchestrator.schemas import DEFAULT_MAX_MESSAGE_CHARS
from orchestrator.warming.settings import WarmingSettings


def _alias(shared: str, field: str) -> AliasChoices:
    """Accept the shared variable, the prefixed one, and the field name (for ``Settings(field=...)``)."""
    return AliasChoices(f"ORCHESTRATOR_{field.upper()}", shared, field)


WORKING_MEMORY_SIZES = (0, 1, 2, 3, 5, 8, 13)


class OrchestratorSettings(SignedServiceSettings, WarmingSettings):
    """Where the NLU, the LLM and Redis are, and how the orchestrator talks to them (telemetry and predictive
    warming: :class:`orchestrator.warming.settings.WarmingSettings`)."""

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
    memory_enabled: bool = Field(
        default=True,
        description="Conversation memory (needs Redis): sessions by session_id, the working-memory window and the "
        "user's long-term memories for the planner and deep routes; 'glöm det' / 'glöm allt'",
    )
    working_memory_turns: int = Field(
        default=5,
        description="Working memory: the last N turns of the session the planner and deep routes see (a Fibonacci "
        "number: 0, 1, 2, 3, 5, 8, 13)",
    )
    session_ttl_s: int = Field(
        default=86_400, ge=60, le=30 * 86_400, description="Session memory: kept this long after its last turn"
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
    # Seconds feedback on an answer (POST /api/feedback with its request_id) can still reach its cache entry: one
    # small Redis key per answer lives this long.
    cache_feedback_window_s: int = Field(default=86_400, ge=10, le=7 * 86_400)
    # Request links kept at most (~190 B of Redis each): feedback is bounded in count as well as in time.
    cache_feedback_max_links: int = Field(default=200_000, ge=100, le=100_000_000)
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

    # -- the Fibonacci scaler (docs/FIBONACCI.md; its thresholds and cooldowns are FIB_SCALER_*) --
    scaler_replicas: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict,
        description="Replicas running now per service ('orchestrator=2,nlu=3'); unset: 1, and for modelserver the "
        "number of LLM servers",
    )
    scaler_slots: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: {"nlu": 1.0, "modelserver": 1.0},
        description="Requests one replica of a downstream works on at once when fully used",
    )
    scaler_capacity_rps: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        description="Requests per second one replica serves when fully used, where known ('orchestrator=400')",
    )
    scaler_p95_targets_ms: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        description="p95 objective per service; unset: FIB_ALERT_P95_WARNING_MS for the orchestrator (routes not "
        "waiting on the LLM) and the NLU, none for the LLM servers",
    )
    scaler_cpu_cores: float = Field(
        default=1.0, gt=0, le=1024, description="CPU cores one orchestrator replica can use (one event loop: 1)"
    )

    def llm_hosts(self) -> list[str]:
        """The LLM servers: ``llm_backends`` when set, else ``ollama_host``."""
        return [h.strip() for h in self.llm_backends.split(",") if h.strip()] or [self.ollama_host]

    @field_validator("working_memory_turns")
    @classmethod
    def _fibonacci_window(cls, value: int) -> int:
        if value not in WORKING_MEMORY_SIZES:
            raise ValueError(f"must be one of {', '.join(map(str, WORKING_MEMORY_SIZES))} (a Fibonacci window)")
        return value

    @field_validator("scaler_replicas", mode="before")
    @classmethod
    def _service_ints(cls, value: Any) -> Any:
        return parse_service_map(value, int)

    @field_validator("scaler_slots", "scaler_capacity_rps", "scaler_p95_targets_ms", mode="before")
    @classmethod
    def _service_floats(cls, value: Any) -> Any:
        return parse_service_map(value, float)
