"""Request and response models of the orchestrator's HTTP API (DESIGN §6)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from orchestrator.router import Route

DEFAULT_MAX_MESSAGE_CHARS = 4000


class ChatRequest(BaseModel):
    """``POST /api/chat``. The message limit comes from the settings through the validation context."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    message: str = Field(min_length=1, description="The user's message (already redacted by the guardian).")
    session_id: str | None = Field(default=None, max_length=128)
    stream: bool = False
    force_route: Route | None = None

    @field_validator("message")
    @classmethod
    def _message(cls, value: str, info: ValidationInfo) -> str:
        limit = (info.context or {}).get("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS)
        stripped = value.strip()
        if not stripped:
            raise ValueError("message must not be empty")
        if len(stripped) > limit:
            raise ValueError(f"message must be at most {limit} characters")
        return stripped


class ToolCall(BaseModel):
    """One tool the answer used (none exist yet)."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    result: Any = None


class CacheInfo(BaseModel):
    """Whether the answer came from a cache, and from which tier."""

    hit: bool = False
    tier: int | None = None
    kind: str | None = None


class ChatResponse(BaseModel):
    """The answer to ``POST /api/chat`` (also the data of the stream's ``done`` event)."""

    response: str
    route: Route
    route_reason: str
    intent: str | None
    confidence: float | None
    tools: list[ToolCall] = Field(default_factory=list)
    cache: CacheInfo = Field(default_factory=CacheInfo)
    model: str
    latency_ms: float
    request_id: str | None


class StatusResponse(BaseModel):
    """``GET /api/status``: the orchestrator answers without touching the NLU or the LLM."""

    service: str
    version: str
    model: str
    time: str
    tenant: str
