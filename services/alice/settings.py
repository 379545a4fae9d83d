"""Settings base for every service (pydantic-settings); each service subclasses it with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="ServiceSettings")

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "please-change-me"})


class ServiceSettings(BaseSettings):
    """Fields every service has. Tests build settings explicitly; ``.env`` is never read implicitly."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_format: Literal["json", "console"] = Field(default="json", validation_alias="ALICE_LOG_FORMAT")
    log_level: str = Field(default="INFO", validation_alias="ALICE_LOG_LEVEL")
    # Transport under the inter-service httpx clients; chosen by `alice bench mesh` (see docs/PERFORMANCE.md).
    http_transport: Literal["httpx", "aiohttp"] = Field(default="aiohttp", validation_alias="ALICE_HTTP_TRANSPORT")


class SignedServiceSettings(ServiceSettings):
    """Settings of a service on either side of the guardian's signature (guardian, orchestrator)."""

    # Required: a shared default would let anyone who read the source sign requests. `alice up` makes one per run.
    internal_secret: SecretStr = Field(
        validation_alias="ALICE_INTERNAL_SECRET",
    )
    signature_max_skew_s: float = Field(default=30.0, gt=0, le=600)

    @field_validator("internal_secret")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw.strip().lower() in PLACEHOLDER_SECRETS or len(raw) < 16:
            raise ValueError(
                "ALICE_INTERNAL_SECRET must be at least 16 characters and not a placeholder "
                "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value


def load_settings(cls: type[S], service: str) -> S:
    """Build ``cls`` from the environment; on invalid values print one clear line and exit with code 2."""
    import sys

    try:
        return cls()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        print(f"alice-{service}: invalid settings: {problems}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def default_data_dir() -> Path:
    """Where Alice keeps state by default (models, keys): ``$ALICE_HOME`` or ``~/.alice``."""
    import os

    return Path(os.environ.get("ALICE_HOME", str(Path.home() / ".alice")))


def model_dir(variable: str, name: str) -> Path:
    """A trained model's folder: the environment ``variable`` when set, else ``$ALICE_HOME/<name>``."""
    import os

    return Path(os.environ.get(variable) or default_data_dir() / name)
