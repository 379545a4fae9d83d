"""Request and response models of the orchestrator's HTTP API (DESIGN §6)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from orchestrator.router import Route

#: Above the guardian's 4,000 (the limit users meet): the guardian's redaction tokens are longer than some values
#: ("[TELEFONNUMMER_1]" for an 8-digit number), so a redacted message may be up to ~2.2 times its original.
DEFAULT_MAX_MESSAGE_CHARS = 10_000


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
    """One tool the answer used: its name, its arguments and its typed result."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    result: Any = None


class CacheInfo(BaseModel):
    """Whether the answer came from the cache: its Fibonacci level (1-10) and kind (exact or semantic)."""

    hit: bool = False
    tier: int | None = None
    kind: str | None = None
    #: Cosine similarity between the question and the cached one (semantic hits only).
    similarity: float | None = None


class FeedbackRequest(BaseModel):
    """``POST /api/feedback``: a rating of the answer to an earlier request (its ``request_id``)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=128)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=2000)


class FeedbackResponse(BaseModel):
    """What the rating did: the cache entry it reached and whether that entry was removed."""

    request_id: str
    rating: Literal["up", "down"]
    cache_entry: str | None
    cache_kind: str | None
    invalidated: bool


class InvalidateRequest(BaseModel):
    """``POST /api/cache/invalidate``: remove every entry matching all the given tags (at least one)."""

    model_config = ConfigDict(extra="forbid")

    tenant: str | None = Field(default=None, min_length=1, max_length=128)
    intent: str | None = Field(default=None, min_length=1, max_length=128)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    policy_version: str | None = Field(default=None, min_length=1, max_length=64)

    def tags(self) -> dict[str, str]:
        """The tag filters, named as the cache stores them."""
        names = {"tenant": self.tenant, "intent": self.intent, "model": self.model, "policy": self.policy_version}
        return {k: v for k, v in names.items() if v is not None}


class CacheChangeResponse(BaseModel):
    """How many cached answers an invalidation or a flush removed."""

    removed: int


class RecalledFact(BaseModel):
    """A long-term memory the answer was given: the caller's own."""

    id: str
    text: str
    score: float


class MemoryInfo(BaseModel):
    """The context the planner or deep route got: recent turns of the session and the caller's memories."""

    turns: int = 0
    facts: list[RecalledFact] = Field(default_factory=list)


class ChatResponse(BaseModel):
    """The answer to ``POST /api/chat`` (also the data of the stream's ``done`` event)."""

    response: str
    route: Route
    route_reason: str
    intent: str | None
    confidence: float | None
    tools: list[ToolCall] = Field(default_factory=list)
    cache: CacheInfo = Field(default_factory=CacheInfo)
    #: The LLM that wrote the answer; None when a tool answered.
    model: str | None
    latency_ms: float
    request_id: str | None
    #: The recalled context (planner and deep routes); None when the message stood alone.
    memory: MemoryInfo | None = None


class StatusResponse(BaseModel):
    """``GET /api/status``: the orchestrator answers without touching the NLU or the LLM."""

    service: str
    version: str
    model: str
    time: str
    tenant: str
