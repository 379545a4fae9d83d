"""The orchestrator's settings (env prefix ``ORCHESTRATOR_``; shared names such as ``OLLAMA_HOST`` as-is)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from alice.models import DEFAULT_MODEL
from alice.settings import SignedServiceSettings


def _alias(shared: str, field: str) -> AliasChoices:
    """Accept the shared variable, the prefixed one, and the field name (for ``Settings(field=...)``)."""
    return AliasChoices(f"ORCHESTRATOR_{field.upper()}", shared, field)


class OrchestratorSettings(SignedServiceSettings):
    """Where the NLU, the LLM and Redis are, and how the orchestrator talks to them."""

    model_config = SettingsConfigDict(env_prefix="ORCHESTRATOR_", extra="ignore", case_sensitive=False)

    port: int = Field(default=8000, ge=0, le=65535)
    nlu_url: str = "http://127.0.0.1:9002"
    nlu_timeout_s: float = Field(default=2.0, gt=0, le=60)
    ollama_host: str = Field(default="http://127.0.0.1:11434", validation_alias=_alias("OLLAMA_HOST", "ollama_host"))
    # A plain model name handed to the Ollama client; a real Ollama names its models differently.
    model: str = DEFAULT_MODEL
    llm_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    redis_url: str | None = Field(default=None, validation_alias=_alias("REDIS_URL", "redis_url"))
    max_message_chars: int = Field(default=4000, ge=1, le=100_000)
    temperature: float = Field(default=0.3, ge=0, le=2)
    num_predict_micro: int = Field(default=128, ge=1, le=8192)
    num_predict_deep: int = Field(default=384, ge=1, le=32768)
    # Small models loop on long Swedish answers; a mild penalty keeps them from repeating whole sentences.
    repeat_penalty: float = Field(default=1.15, ge=0.5, le=2.0)
    llm_retry_after_s: float = Field(default=5.0, gt=0)
